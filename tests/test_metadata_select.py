"""Selecting policies (both `where` forms), every `bring` modifier, and `from !var bring`.

Expected outputs come from three sources, cited per row:
- OBS: EdgeLake 1.4.2604 (faba50d) run on this machine with LEDGER below written as its
  blockchain.json, answering `blockchain get ...` on its CLI (the session notes list each answer);
- SPEC: /work/shared/notes/anylog-spec.md §7.4 (observed on EdgeLake by the notes' author);
- DOC: AnyLog-co/documentation, "08- Blockchain & Metadata/03- Blockchain Commands.md" and
  "07- CLI/05- JSON Data Transformation.md".
Rows marked FIX differ from EdgeLake on purpose (docs/metadata-query.md, "Where anynode differs").
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from anynode.errors import CommandSyntaxError
from anynode.metadata.bring import NodeAddresses, bring, dial_address, parse_bring
from anynode.metadata.select import parse_types, parse_where, select
from anynode.node import Node
from anynode.results import Json, Table

LEDGER: list[dict[str, Any]] = [
    {"operator": {"company": "Acme", "name": "op1", "ip": "127.0.0.1", "port": 32148, "rest_port": 32149, "main": True,
                  "country": "US", "city": "San Jose", "tags": ["a", "B"], "cluster": "id4", "id": "id1",
                  "date": "2026-01-02T00:00:00.000000Z", "ledger": "global"}},
    {"operator": {"company": "acme", "name": "op2", "ip": "10.0.0.2", "port": 32158, "rest_port": 32159, "main": False,
                  "country": "UK", "cluster": "id4", "id": "id2", "date": "2026-01-01T00:00:00.000000Z",
                  "ledger": "global"}},
    {"query": {"company": "other", "name": "q1", "ip": "127.0.0.1", "port": 32348, "id": "id3", "ledger": "global"}},
    {"cluster": {"company": "acme", "name": "c1", "table": [{"dbms": "demo", "name": "sensor"},
                                                           {"dbms": "demo2", "name": "t2"}], "id": "id4",
                 "ledger": "global"}},
    {"tag": {"name": "t1", "path": "Root/Objects/", "id": "id5", "ledger": "global"}},
    {"tag": {"name": "t2", "path": "Root/Objects/Dev", "parent": "id5", "id": "id6", "ledger": "global"}},
    {"tag": {"name": "t3", "path": "Root/Objects/Dev/x", "parent": "id6", "id": "id7", "ledger": "global"}},
    {"tag": {"name": "t4", "path": "Root/Objects/Dev2/", "parent": "id5", "id": "id8", "ledger": "global"}},
]
WILD = {"publisher": {"company": "*", "name": "p1", "country": "*", "id": "id9"}}


def names(policies: list[dict[str, Any]]) -> list[str]:
    return [next(iter(p.values()))["name"] for p in policies]


def get(types: str, where: str | None, clause: str, ledger: list[dict[str, Any]] = LEDGER) -> Any:
    """`blockchain get <types> [where ...] <clause>` over `ledger`, with the engine alone."""
    chosen = select(ledger, types, parse_where(where) if where else None)
    return bring(chosen, parse_bring(clause), everything=ledger)


# -- where, key/value form ---------------------------------------------------------

KEY_VALUE = [
    ("operator", "company = ACME and port = 32148", ["op1"]),                  # OBS: op1; SPEC: case-insensitive
    ("operator", "company = acme", ["op1", "op2"]),                             # SPEC: company = ACME matches acme
    ("operator", "name = OP2", ["op2"]),
    ("operator", "port = 32158", ["op2"]),                                      # SPEC: ints compare numerically
    ("operator", "port = 32158.0", ["op2"]),
    ("operator", "rest_port = 32149", ["op1"]),
    ("operator", "main = true", ["op1"]),                                       # FIX: EdgeLake matches nothing (OBS)
    ("operator", "main = FALSE", ["op2"]),
    ("operator", "tags = b", ["op1"]),                                          # FIX: EdgeLake: case-sensitive (OBS)
    ("operator", "tags = a", ["op1"]),                                          # SPEC: a list attribute holds the value
    ("cluster", "table[dbms] = demo", ["c1"]),                                  # DOC 03: table[dbms] = my_data
    ("cluster", "table[dbms] = demo2", ["c1"]),                                 # FIX: EdgeLake: 1st dict only (OBS)
    ("cluster", "table[dbms] = demo and table[name] = sensor", ["c1"]),
    ("cluster", "table[dbms] = nodb", []),
    ("*", "[id] = id5", ["t1"]),                                                # DOC 05: where [id] = "sub"
    ("*", "[*][name] = q1", ["q1"]),
    ("*", "city = nowhere", []),
    ("operator", "cluster with [\"id9\", \"id4\"]", ["op1", "op2"]),
    ("operator", "country = uk", ["op2"]),
    ("(operator, publisher)", "country = fr", ["p1"]),                          # SPEC: '*' in a policy matches anything
    ("publisher", "company = anything and name = p1", ["p1"]),
]


@pytest.mark.parametrize("types,where,expected", KEY_VALUE, ids=[w for _, w, _ in KEY_VALUE])
def test_where_key_value_form(types: str, where: str, expected: list[str]) -> None:
    condition = parse_where(where)
    assert condition.form == "key/value"
    assert names(select(LEDGER + [WILD], types, condition)) == expected


# -- where, expression form --------------------------------------------------------

EXPRESSIONS = [
    ("operator", "[name] == op1 or [name] == OP2", ["op1", "op2"]),             # OBS; DOC 03
    ("operator", '[country] == US and ([city] == "San Francisco" or [city] == "San Jose")', ["op1"]),  # DOC 03
    ("(operator, query)", "[port] > 32200", ["q1"]),                            # OBS
    ("(operator, query)", "[port] > 4", ["op1", "op2", "q1"]),                  # FIX: EdgeLake: text, none (OBS)
    ("(operator, query)", "[port] <= 32158 and [port] >= 32150", ["op2"]),
    ("*", "[tags] contains a", ["op1"]),                                        # OBS; DOC 05: [country] contains US
    ("operator", "[city] contains JOSE", ["op1"]),
    ("operator", '[city] == "san jose"', ["op1"]),                              # OBS
    ("tag", "[path] startswith root/objects/dev", ["t2", "t3", "t4"]),
    ("tag", "[path] startwith 'Root/Objects/Dev2'", ["t4"]),                    # DOC 03 spells it startwith
    ("tag", "[path] childfrom Root/Objects/", ["t2", "t4"]),                    # OBS; DOC 03
    ("tag", "[path] endswith /", ["t1", "t4"]),
    ("operator", "[main]", ["op1"]),
    ("operator", "not [main]", ["op2"]),
    ("operator", "[main] == true", ["op1"]),                                    # OBS
    ("operator", "[name] != op1", ["op2"]),
    ("operator", "[name] == op1 and [port] > 100 or [name] == op2", ["op1", "op2"]),  # FIX: EdgeLake: op1 (OBS)
    ("operator", "[name] == op2 and ([port] > 100 or [name] == op1)", ["op2"]),
    ("operator", "company = acme and [port] >= 32150", ["op2"]),                # the two forms mixed
    ("*", "[operator][name] == op1", ["op1"]),
    ("*", "[*][name] == q1", ["q1"]),
    ("operator", "[nosuch] != x", ["op1", "op2"]),                              # an absent attribute reads as ""
    ("operator", "[path(prefix(2))] == ro or [city(find( ))] == san", ["op1"]),
]


@pytest.mark.parametrize("types,where,expected", EXPRESSIONS, ids=[w for _, w, _ in EXPRESSIONS])
def test_where_expression_form(types: str, where: str, expected: list[str]) -> None:
    condition = parse_where(where)
    assert condition.form == "expression"
    assert names(select(LEDGER, types, condition)) == expected


WHERE_ERRORS = [
    ("", "the condition is empty", None),
    ("name =", "'=' needs a value after it", 5),
    ("[name] like x", "'like' is not a comparison", 7),
    ("[city] == San Jose", "expected 'and' or 'or' after '[city] == San', found 'Jose'", 14),
    ("name = a and", "the condition ends after 'and'", 9),
    ("[name] == op1 or", "the condition ends after 'or'", 14),
    ("company", "'company' is not a condition", 0),
    ("and name = x", "expected a condition, found 'and'", 0),
    ("() or name = a", "'()' holds no condition", 0),
    ("[a][*] == x", "'*' in '[a][*]' stands for the policy type", 0),
    ("[x(upper(1))] == a", "'[x(upper(1))]' is not a text operation", 0),
    ("name = op1 and ([port] > )", "'>' needs a value after it", 23),
    ('"op1" = name', "expected an attribute name before '='", 0),
    ("cluster with [1, ", "never closed", 13),
]


@pytest.mark.parametrize("where,message,offset", WHERE_ERRORS, ids=[w or "empty" for w, _, _ in WHERE_ERRORS])
def test_where_errors_name_the_word_and_its_column(where: str, message: str, offset: int | None) -> None:
    with pytest.raises(CommandSyntaxError) as err:
        parse_where(where)
    assert message in err.value.message
    assert err.value.offset == offset
    if offset is not None and "never closed" not in message:
        assert f"(column {offset + 1})" in err.value.message
    assert "\n" not in err.value.one_line()


def test_where_error_offsets_follow_the_tokens_of_the_command_line() -> None:
    from anynode.grammar.tokens import tokenize

    line = "blockchain get operator where [name] == op1 or [port] >"
    tokens = tokenize(line)
    with pytest.raises(CommandSyntaxError) as err:
        parse_where(tokens[4:])
    assert err.value.offset == line.index(">")


def test_select_types_one_several_or_all() -> None:
    assert names(select(LEDGER, "query")) == ["q1"]
    assert names(select(LEDGER, "(operator, query)")) == ["op1", "op2", "q1"]
    assert names(select(LEDGER, ("query", "OPERATOR"))) == ["op1", "op2", "q1"]
    assert names(select(LEDGER, "(operator,)")) == ["op1", "op2"]                  # EdgeLake's own example
    assert len(select(LEDGER, "*")) == len(LEDGER)
    assert parse_types(("*", "operator")) is None
    with pytest.raises(CommandSyntaxError, match="no policy type given"):
        select(LEDGER, "()")
    assert select(LEDGER + ["not a policy", {}], "*") == LEDGER                     # never raises on a bad entry


# -- bring -------------------------------------------------------------------------

BRINGS = [
    ("operator", None, "bring [*][ip] : [*][port]", "127.0.0.1:3214810.0.0.2:32158"),   # OBS: no separator, no gap
    ("operator", None, "bring [*][ip] : [*][port] separator = ,", "127.0.0.1:32148,10.0.0.2:32158"),
    ("operator", None, "bring [*][ip]:[*][port] separator = ,", "127.0.0.1,10.0.0.2"),    # OBS: one word = either
    ("operator", None, "bring [*][name] [*][nosuch]:[*][port] separator = ,", "op132148,op232158"),  # OBS
    ("operator", None, "bring [operator][name] _ [operator][port] separator = \\n", "op1_32148\nop2_32158"),
    ("operator", None, 'bring [*][company] separator = " | "', "Acme | acme"),          # OBS
    ("operator", None, "bring [name]", "op1op2"),                                         # DOC 03: root omitted
    ("operator", None, "bring ['operator']['name'] \\n", "op1\nop2\n"),                   # DOC 05 quoted keys
    ("operator", None, "bring [*][main] [*][port]", "true32148false32158"),              # FIX: EdgeLake True/False
    ("cluster", None, "bring [*][table][][name]", '["sensor", "t2"]'),                    # FIX: EdgeLake adds a comma
    ("cluster", None, "bring [*][table][0][dbms]", "demo"),
    ("cluster", None, "bring [*][table]",
     '[{"dbms": "demo", "name": "sensor"}, {"dbms": "demo2", "name": "t2"}]'),           # FIX: EdgeLake prints Python
    ("(operator, cluster)", None, "bring [*][ip] : [*][port] separator = ,", "127.0.0.1:32148,10.0.0.2:32158"),
    ("tag", None, "bring [*][path(rfind(/))] separator = ,", "Dev,x"),                   # DOC 05; empty = no value
    ("tag", None, "bring [*][path(find(/))] - [*][path(suffix(3))] separator = ,",
     "Root-ts/,Root-Dev,Root-v/x,Root-v2/"),
    ("query", None, "bring [*]", "query"),                                                # SPEC: [*] is the type
    ("query", None, "bring []", "query"),                                                 # DOC 05: [] is the type
    ("operator", None, "bring.first [*][name]", "op2"),                                   # DOC 05: earliest date
    ("operator", None, "bring.last [*][name]", "op1"),                                    # DOC 05: latest date
    ("operator", None, "bring.recent [*][id]", "id1"),
    ("tag", None, "bring.first [*][name]", "t1"),                                         # no dates: ledger order
    ("tag", None, "bring.recent [*][name]", "t4"),
    ("*", None, "bring.count", "8"),                                                      # SPEC: bring.count
    ("operator", None, "bring.count [*][name]", "2"),                                     # FIX: EdgeLake: JSON
    ("(operator, query)", None, "bring.count [*][city]", "1"),
    ("operator", None, "bring.count.unique [*][company]", "2"),
    ("operator", None, "bring.count.json", [{"count": 2}]),                               # OBS: [{"count" : 2 }]
    ("operator", None, "bring.unique [*][country] [*][company]", "USAcmeUKacme"),
    ("cluster", None, "bring.unique [*][company] separator = ,", "acme"),                 # SPEC: de-duplicated
    ("(operator, cluster)", None, "bring.unique [*][cluster]:[*][id] separator = ,", "id4"),
    ("operator", None, "bring.unique [*][company] \\n", "Acme\nacme\n"),                  # OBS
    ("operator", None, "bring.json [*][name] [*][nosuch]", [{"name": "op1"}, {"name": "op2"}]),   # OBS
    ("operator", None, "bring.json.null [*][name] [*][nosuch]",
     [{"name": "op1", "nosuch": ""}, {"name": "op2", "nosuch": ""}]),                   # OBS; DOC 05 example 3
    ("operator", None, "bring.json [*][name] : [*][port]",
     [{"name": "op1", "port": 32148}, {"name": "op2", "port": 32158}]),
    ("query", None, "bring.json [*] [*][name]", [{"policy": "query", "name": "q1"}]),
    ("operator", None, "bring.unique.json [*][company]", [{"company": "Acme"}, {"company": "acme"}]),  # OBS
    ("cluster", None, "bring.json", [LEDGER[3]]),
    ("operator", None, "bring.list [*][name] . [*][port]", ["op1.32148", "op2.32158"]),   # FIX: EdgeLake unquoted
    ("(operator, query)", None, "bring.min [*][port]", "32148"),                          # OBS
    ("(operator, query)", None, "bring.max [*][port]", "32348"),
    ("(operator, query)", None, "bring.max [*][name]", "q1"),                             # OBS: text compare
    ("(operator, query)", None, "bring.ip_port", "127.0.0.1:32148,10.0.0.2:32158,127.0.0.1:32348"),  # OBS; SPEC
    ("operator", None, "bring.first.ip_port", "10.0.0.2:32158"),
    ("tag", "id = id5", "bring.children [*][name] separator = ,", "t2,t4"),              # FIX: EdgeLake: no template
    ("tag", "id = id6", "bring.children", [LEDGER[6]]),                                    # OBS: the children
    ("tag", "[id] == id5 or [id] == id6", "bring.children.count", "3"),
    ("tag", "id = id7", "bring.children", ""),                                             # no child: empty
    ("operator", None, "bring.first", [LEDGER[1]]),                                        # OBS: whole policy, listed
]


@pytest.mark.parametrize("types,where,clause,expected", BRINGS, ids=[f"{t} {w or ''} {c}" for t, w, c, _ in BRINGS])
def test_bring(types: str, where: str | None, clause: str, expected: Any) -> None:
    assert get(types, where, clause) == expected


def test_bring_table_titles_rows_and_sort() -> None:
    table = get("*", None, "bring.table.sort(1) [] [*][name] [*][port]")              # OBS: Policy/Name/Port
    assert isinstance(table, Table)
    assert table.columns == ("Policy", "Name", "Port")
    assert [r[1] for r in table.rows] == ["c1", "op1", "op2", "q1", "t1", "t2", "t3", "t4"]
    assert table.rows[0] == ("cluster", "c1", "") and table.rows[1] == ("operator", "op1", 32148)

    table = get("(operator, query)", None, "bring.table [*][name] [*][ip] [*][port]")  # SPEC: Name Ip Port
    assert table.columns == ("Name", "Ip", "Port")
    assert table.to_text().splitlines()[2].split() == ["op1", "127.0.0.1", "32148"]

    by_port = get("(operator, query)", None, "bring.table.sort(1,0) [*][name] [*][port]")
    assert [r[0] for r in by_port.rows] == ["op1", "op2", "q1"]
    down = get("*", None, "bring.table.sort [*][port] [*][name]")                      # numbers before text, by value
    assert [r[1] for r in down.rows[:3]] == ["op1", "op2", "q1"]

    mixed = get("tag", None, "bring.table [*][name] [*][path(rfind(/))] [*][path(prefix(4))]")  # OBS: Name Path
    assert mixed.columns == ("Name", "Path", "Path") and mixed.rows[1] == ("t2", "Dev", "Root")

    whole = get("operator", None, "bring.table")
    assert whole.columns[:4] == ("Type", "Company", "Name", "Ip") and whole.rows[0][:3] == ("operator", "Acme", "op1")
    assert whole.rows[1][whole.columns.index("City")] == ""


def test_bring_on_nothing_selected_is_empty_except_count() -> None:
    for clause in ("bring [*][name]", "bring.json [*][name]", "bring.table [*][name]", "bring.first", "bring.ip_port",
                   "bring.list [*][name]", "bring.max [*][port]", "bring.unique [*][name]", "bring.json",
                   "bring.children [*][name]"):
        assert bring([], parse_bring(clause)) == "", clause   # SPEC: assignment gets ""; EdgeLake prints nothing
    assert bring([], parse_bring("bring.count")) == "0"       # FIX: EdgeLake gives "" (OBS)
    assert bring([], parse_bring("bring.count.json")) == [{"count": 0}]


def test_bring_separator_argument_overrides_the_clause() -> None:
    spec = parse_bring("bring [*][name] separator = ,")
    assert spec.separator == ","
    assert bring(LEDGER[:2], spec, separator="\t") == "op1\top2"


BRING_ERRORS = [
    ("bring.foo [*][name]", "unknown modifier 'foo' in 'bring.foo'", 0),
    ("bring", "'bring' needs a template", 0),
    ("bring.null", "'bring.null' needs a template", 0),
    ("bring.min", "'bring.min' needs a template", 0),
    ("bring.json : ", "needs at least one [path]", 0),
    ("bring.sort [*][name]", "'.sort' sorts a table", 0),
    ("bring.table.sort(2) [*][a] [*][b]", "sort column 2 is out of range: the table has 2 columns (0 to 1)", 0),
    ("bring.first.last", "exclude each other", 0),
    ("bring.min.max [*][port]", "exclude each other", 0),
    ("bring.ip_port [*][ip]", "'.ip_port' takes no template", 0),
    ("bring [*][name] separator =", "'separator =' needs a value", 26),
    ("bring [*][name] separator = , and python = {x}", "unexpected 'and' after the separator", 30),
    ("bring [*][name]x", "'[*][name]x' is not a path", 6),
    ("brung [*][name]", "expected 'bring' or 'bring.<modifier>'", 0),
    ("bring [*][name(upper(1))]", "is not a text operation", 6),
]


@pytest.mark.parametrize("clause,message,offset", BRING_ERRORS, ids=[c for c, _, _ in BRING_ERRORS])
def test_bring_errors_name_the_word(clause: str, message: str, offset: int) -> None:
    with pytest.raises(CommandSyntaxError) as err:
        parse_bring(clause)
    assert message in err.value.message
    assert err.value.offset == offset


def test_ip_port_dials_a_peer_behind_this_node_public_address_at_its_local_one() -> None:
    here = NodeAddresses(external_ip="24.5.1.1", external_port=32148, local_ip="10.0.0.5", local_port=32148)
    peer = {"operator": {"ip": "24.5.1.1", "local_ip": "10.0.0.7", "port": 40000, "local_port": 40001}}
    assert dial_address(peer, here) == "10.0.0.7:40001"
    assert dial_address(peer) == "24.5.1.1:40000"                                  # nothing known of this node
    me = {"operator": {"ip": "24.5.1.1", "local_ip": "10.0.0.5", "port": 32148}}
    assert dial_address(me, NodeAddresses("24.5.1.1", 32148, "10.0.0.5", 2048)) == "10.0.0.5:2048"
    far = {"operator": {"ip": "24.9.9.9", "local_ip": "10.0.0.7", "port": 40000}}
    assert dial_address(far, here) == "24.9.9.9:40000"
    assert dial_address({"master": {"internal_ip": "10.1.1.1", "port": 32048}}) == "10.1.1.1:32048"
    assert dial_address({"master": {"ip": "10.1.1.1"}}) == ""                         # no port: not dialled
    spec = parse_bring("bring.ip_port")
    assert bring([peer, far, {"tag": {"name": "x"}}], spec, destination=here) == "10.0.0.7:40001,24.9.9.9:40000"


# -- from !var bring ---------------------------------------------------------------


def test_from_brings_values_out_of_a_policy_variable(node: Node) -> None:
    node.execute('q = {"query": {"name": "q1", "port": 32348, "ip": "127.0.0.1"}}')
    assert node.execute("from !q bring [query][name] _ [query][port]").to_text() == "q1_32348"   # SPEC §7.4
    node.execute("policy_type = from !q  bring [*]")  # SPEC; DS publish_policy.al
    assert node.get_var("policy_type") == "query"
    node.execute("port = from !q bring.last [*][port]")
    assert node.get_var("port") == "32348"
    assert node.execute("from !q bring.ip_port").to_text() == "127.0.0.1:32348"


def test_from_reads_anylog_single_quoted_objects(node: Node) -> None:
    # DOC 05 "Retrieving data from a JSON object"
    node.execute("policy = {'cluster' : {'company' : 'anylog', 'name' : 'cluster_1', 'status' : 'active'}}")
    assert node.execute('from !policy bring [cluster][name] " : " [cluster][status]').to_text() == "cluster_1 : active"


def test_from_on_a_list_and_on_a_plain_object(node: Node) -> None:
    node.set_var("operators", json.dumps(LEDGER[:2]))
    assert node.execute("from !operators bring [operator][name] _ [operator][port] separator = \\n").to_text() \
        == "op1_32148\nop2_32158"                                                         # OBS
    table = node.execute("from !operators bring.table [*][name] [*][port]")
    assert isinstance(table, Table) and table.rows == (("op1", 32148), ("op2", 32158))
    listed = node.execute("from !operators bring.json [*][name]")
    assert isinstance(listed, Json) and listed.to_json() == [{"name": "op1"}, {"name": "op2"}]
    node.execute('conn_info = {"TCP": {"external": "1.2.3.4:32048"}, "Messaging": {"external": "Not declared"}}')
    node.execute("is_msg_broker = from !conn_info bring [Messaging][external]")          # DS connect_blockchain.al
    assert node.get_var("is_msg_broker") == "Not declared"


def test_from_assignment_of_nothing_leaves_the_variable_unset(node: Node) -> None:
    node.execute('q = {"query": {"name": "q1"}}')
    node.execute("x = old")
    assert node.execute("x = from !q bring [query][ip]").to_text() == ""
    assert node.get_var("x") is None                                                      # SPEC: assignment gets ""
    node.execute("n = from !q bring.count [query][ip]")
    assert node.get_var("n") == "0"


FROM_ERRORS = [
    ("from !nosuch bring [a]", "variable '!nosuch' is not defined"),
    ("from !text bring [a]", "'from' needs JSON"),
    ("from !number bring [a]", "'from' needs a JSON object or list, not int"),
    ("from !q", "'from' needs <clause>"),
    ("from !q where [a]", "expected 'bring' or 'bring.<modifier>'"),
    ("from !q bring.fist [*][id]", "unknown modifier 'fist'"),
]


@pytest.mark.parametrize("line,message", FROM_ERRORS, ids=[line for line, _ in FROM_ERRORS])
def test_from_errors(node: Node, line: str, message: str) -> None:
    node.execute('q = {"query": {"name": "q1"}}')
    node.execute("text = hello world")
    node.execute("number = 5")
    with pytest.raises(CommandSyntaxError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        node.execute(line)


def test_from_is_documented_and_parses_the_deployment_scripts_forms(node: Node) -> None:
    help_text = node.execute("help from").to_text()
    assert "bring" in help_text and "from !policy bring [*][name]" in help_text
    node.execute('is_policy = {"operator": {"id": "abc", "contract": "0x1"}}')
    # DS node-deployment/policies/node_policy.al and connect_blockchain.al
    node.execute("operator_id = from !is_policy bring.last [*][id]")
    node.execute("if !is_policy then contract = from !is_policy bring [*][contract]")
    assert (node.get_var("operator_id"), node.get_var("contract")) == ("abc", "0x1")
