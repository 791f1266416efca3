"""connect dbms, sql, get databases/tables/columns — on SQLite and a real PostgreSQL."""

from __future__ import annotations

import pytest

from anynode.errors import NoSuchDatabase, NotPermitted
from anynode.grammar.dispatch import Source
from anynode.node import Node
from tests.data_helpers import kind, node_db, pg_settings  # noqa: F401  (fixtures)


@pytest.fixture
def db(node_db: str) -> str:
    """A connected database of each kind (tests/data_helpers.py)."""
    return node_db


def test_sql_create_insert_select_in_both_formats(node: Node, db: str) -> None:
    node.execute(f'sql {db} "create table readings (sensor text, value float)"')
    assert "2 row(s)" in node.execute(f"sql {db} \"insert into readings values ('s1', 1.5), ('s2', 2.5)\"").to_text()
    table = node.execute(f'sql {db} "select sensor, value from readings order by sensor"')
    assert table.columns == ("sensor", "value") and table.rows == (("s1", 1.5), ("s2", 2.5))
    out = node.execute(f'sql {db} format = json "select count(*) as n from readings"').to_json()
    assert out["Query"] == [{"n": 2}]
    assert out["Statistics"][0]["Count"] == 1 and out["Statistics"][0]["Nodes"] == 0
    assert node.execute(f'sql {db} format = json and stat = false "select 1 as x"').to_json() == {"Query": [{"x": 1}]}


def test_get_databases_tables_columns(node: Node, db: str) -> None:
    node.execute(f'sql {db} "create table t1 (a int, b text)"')
    dbs = {r[0]: r for r in node.execute("get databases").rows}
    assert db in dbs and dbs[db][2] == "user"
    assert (db, "t1") in node.execute("get tables where dbms = *").rows
    cols = dict(node.execute(f"get table columns where dbms = {db} and table = t1").rows)
    assert list(cols) == ["a", "b"]


def test_peers_may_only_select(node: Node, db: str) -> None:
    node.execute(f'sql {db} "create table t2 (a int)"')
    assert node.execute(f'sql {db} "select count(*) from t2"', Source.REST).rows == ((0,),)
    with pytest.raises(NotPermitted, match="SELECT only"):
        node.execute(f'sql {db} "drop table t2"', Source.REMOTE)
    with pytest.raises(NotPermitted):
        node.execute("connect dbms other where type = sqlite", Source.REST)


def test_sql_on_a_database_not_connected_says_how_to_connect(node: Node) -> None:
    with pytest.raises(NoSuchDatabase) as err:
        node.execute('sql nowhere "select 1"')
    assert err.value.one_line() == "Logical DBMS 'nowhere' not connected (connect dbms nowhere where type = sqlite)"


@pytest.mark.parametrize("line, message", [
    ('sql demo', "found no statement"),
    ('sql demo format = xml "select 1"', "format 'xml' is not accepted"),
    ('sql demo colour = red "select 1"', "unknown sql option 'colour'"),
    ('sql demo nodes = all "select 1"', "network queries"),
    ('sql demo "select * from missing_table"', "SQL failed on demo"),
])
def test_sql_errors_are_one_clear_line(node: Node, line: str, message: str) -> None:
    node.execute("connect dbms demo where type = sqlite")
    with pytest.raises(Exception, match=message):
        node.execute(line)


def test_connect_twice_is_fine_and_wrong_type_is_refused(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("connect dbms demo where type = sqlite")
    with pytest.raises(Exception, match="not accepted"):
        node.execute("connect dbms demo where type = oracle")
    node.execute("disconnect dbms demo")
    assert node.execute("get databases").rows == ()
