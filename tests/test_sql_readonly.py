"""Queries from peers and REST clients can only read, on SQLite and on PostgreSQL, whatever their text;
a timeout stops the query it belongs to; one query cannot take the node's memory.

The attack corpus runs below the handler's friendly first-word check (straight
into the catalog's read path, as untrusted), so what it shows is the
construction: how each backend connects and runs a statement.
"""

from __future__ import annotations

import json
import re
import resource
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from anynode.cancel import Cancel
from anynode.errors import AnyNodeError, NotPermitted, QueryCancelled, ResultTooLarge
from anynode.store.backend import QueryLimits
from anynode.store.pg_backend import PostgresBackend
from tests.data_helpers import pg_settings
from tests.rest_helpers import start

UNTRUSTED = QueryLimits(untrusted=True)
SUPER_ENV = "ANYNODE_TEST_PG_SUPER"

# Statements a stranger might send as a "query". {mark} is a path that must never come to exist.
ATTACKS = [
    "select 1; drop table victim",
    "select 1; set default_transaction_read_only = off; commit; drop table victim; drop table tsd_info",
    "select 1; delete from victim",
    "select 1;\ndelete from victim",
    "/* a comment */ delete from victim",
    "-- a comment\ndelete from victim",
    "/* /* nested */ select */ delete from victim",
    "with gone as (delete from victim returning *) select * from gone",
    "select * into stolen from victim",
    "create table stolen as select * from victim",
    "copy (select 1) to program 'touch {mark}'",
    "copy victim to '{mark}'",
    "select 1) as q; copy victim to '{mark}'; select (1",
    "select pg_read_file('/etc/hostname')",
    "select lo_import('/etc/hostname')",
    "select dblink_exec('dbname=postgres', 'drop table victim')",
    "attach database '{mark}' as x",
    "vacuum into '{mark}'",
    "select load_extension('{mark}')",
    "pragma query_only = off",
    "pragma writable_schema = on",
    "set default_transaction_read_only = off",
    "set session characteristics as transaction read write",
    "select set_config('default_transaction_read_only', 'off', false)",
    "begin",
    "commit",
    "prepare transaction 'x'",
    "savepoint s",
    "lock table victim",
    "notify anynode",
    "truncate victim",
    "update victim set a = 0",
    "insert into victim values (99)",
    "drop table tsd_info",
    "alter table victim rename to renamed",
    "create temp table t(a int)",
    "do $$ begin delete from victim; end $$",
    "select 1 from victim for update",
    "select nextval('victim_seq')",
]


@pytest.fixture(params=["sqlite", "psql"])
def node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A node with database ``demo`` (SQLite, or a fresh PostgreSQL database) holding ``victim`` and ``tsd_info``."""
    from anynode.node import Node

    n = Node(tmp_path / "node")
    name = "demo"
    if request.param == "psql":
        pg = pg_settings()
        name = f"t_{uuid.uuid4().hex[:12]}"
        n.execute(f"connect dbms {name} where type = psql and user = {pg['user']} and password = {pg['password']} "
                  f"and ip = {pg['host']} and port = {pg['port']}")
        n.execute(f'sql {name} "create sequence victim_seq"')
    else:
        n.execute("connect dbms demo where type = sqlite")
    for stmt in ("create table victim (a integer)", "insert into victim values (1), (2), (3)",
                 "create table tsd_info (file_id integer)", "insert into tsd_info values (7)"):
        n.execute(f'sql {name} "{stmt}"')
    n.set_var("test_dbms", name)
    try:
        yield n
    finally:
        backend = n.catalog.get(name).backend
        n.close()
        if isinstance(backend, PostgresBackend):
            backend.drop_database()


def _dbms(node: Any) -> str:
    return str(node.get_var("test_dbms"))


def _intact(node: Any, mark: Path) -> None:
    """Nothing the attacks aimed at changed: both tables whole, no new table, no file written."""
    cat, dbms = node.catalog, _dbms(node)
    assert cat.query(dbms, "select count(*) from victim")[1] == [(3,)]
    assert cat.query(dbms, "select count(*) from tsd_info")[1] == [(1,)]
    assert set(cat.tables(dbms)) == {"victim", "tsd_info"}
    assert not mark.exists()
    assert not list(mark.parent.glob("*")), "an attack made a file"


def test_attack_corpus_fails_on_the_read_path_and_changes_nothing(node: Any, tmp_path: Path) -> None:
    cat, dbms = node.catalog, _dbms(node)
    marks = tmp_path / "marks"
    marks.mkdir()
    mark = marks / "pwned"
    answered = []
    for attack in ATTACKS:
        sql = attack.format(mark=mark)
        try:
            cat.query(dbms, sql, limits=UNTRUSTED)
            answered.append(attack)
        except AnyNodeError:
            pass
        _intact(node, mark)
        # whatever the attack did to the pooled readers, the next write through them still fails
        with pytest.raises(AnyNodeError):
            cat.query(dbms, "delete from victim", limits=UNTRUSTED)
        _intact(node, mark)
    # Only reads may answer: set_config returns 'off' but its change is rolled back with its transaction.
    assert set(answered) <= {"select set_config('default_transaction_read_only', 'off', false)"}, answered


def test_pooled_readers_come_back_unchanged(node: Any) -> None:
    cat, dbms = node.catalog, _dbms(node)
    if not isinstance(cat.get(dbms).backend, PostgresBackend):
        pytest.skip("session settings are a PostgreSQL matter")
    for _ in range(3):
        cat.query(dbms, "select set_config('default_transaction_read_only', 'off', false)", limits=UNTRUSTED)
        assert cat.query(dbms, "show default_transaction_read_only")[1] == [("on",)]
        assert cat.query(dbms, "show transaction_read_only")[1] == [("on",)]


def test_rest_stacked_statements_from_the_issue_are_refused(node: Any) -> None:
    url, dbms = start(node), _dbms(node)
    attack = (f'sql {dbms} "select 1; set default_transaction_read_only = off; commit; '
              f'drop table victim; drop table tsd_info"')
    r = httpx.get(url, headers={"command": attack}, timeout=10)
    assert 400 <= r.status_code < 500, r.text
    r = httpx.get(url, headers={"command": f'sql {dbms} "select 1; delete from victim"'}, timeout=10)
    assert 400 <= r.status_code < 500, r.text
    r = httpx.get(url, headers={"command": f'sql {dbms} "select * into stolen from victim"'}, timeout=10)
    assert 400 <= r.status_code < 500, r.text
    r = httpx.get(url, headers={"command": f'sql {dbms} "with d as (delete from victim returning *) select * from d"'},
                  timeout=10)
    assert r.status_code == 400, r.text
    r = httpx.get(url, headers={"command": f'sql {dbms} format = json "select count(*) as n from victim"'},
                  timeout=10)
    assert r.status_code == 200 and r.json()["Query"] == [{"n": 3}]
    assert set(node.catalog.tables(dbms)) == {"victim", "tsd_info"}


def test_a_peer_over_tcp_cannot_write_either(node: Any, tmp_path: Path) -> None:
    from anynode.node import Node

    dbms = _dbms(node)
    reply = node.execute("run tcp server where internal_ip = 127.0.0.1 and internal_port = 0 and bind = true")
    addr = re.search(r"127\.0\.0\.1:\d+", reply.to_text())
    assert addr, reply.to_text()
    peer = Node(tmp_path / "peer", name="peer")
    try:
        for attack in ("select 1; delete from victim", "with d as (delete from victim returning *) select * from d",
                       "select * into stolen from victim"):
            with pytest.raises(AnyNodeError, match="SQL failed|may run SELECT only"):  # a command frame: sql
                peer.client().send_command(addr.group(0), f'sql {dbms} "{attack}"')
            with pytest.raises(AnyNodeError):  # run client ... sql: a network query, planned on the peer's side
                peer.execute(f'run client ({addr.group(0)}) sql {dbms} "{attack}"')
        out = peer.execute(f'run client ({addr.group(0)}) sql {dbms} format = json "select count(*) as n from victim"')
        assert '"n": 3' in json.dumps(out.to_json())
    finally:
        peer.close()
    assert set(node.catalog.tables(dbms)) == {"victim", "tsd_info"}


def test_local_console_keeps_its_powers(node: Any) -> None:
    """The node's owner still writes through the writer and reads with explain, on both backends."""
    dbms = _dbms(node)
    node.execute(f'sql {dbms} "insert into victim values (4)"')
    assert node.catalog.query(dbms, "select count(*) from victim")[1] == [(4,)]
    assert node.execute(f'sql {dbms} "explain select * from victim"').to_text()


def test_a_percent_sign_in_a_query_is_text(node: Any) -> None:
    dbms = _dbms(node)
    out = node.execute(f"sql {dbms} format = json \"select 'a%' like 'a%' as yes\"").to_json()
    assert out["Query"][0]["yes"] in (1, True)


# --- timeouts that cancel ---------------------------------------------------------------------------------

SLOW = {
    "sqlite": "with recursive c(x) as (select 1 union all select x + 1 from c where x < 4000000000) "
              "select count(*) from c",
    "psql": "select pg_sleep(60)",
}


def _kind(node: Any) -> str:
    return "psql" if isinstance(node.catalog.get(_dbms(node)).backend, PostgresBackend) else "sqlite"


def test_rest_timeout_stops_the_query_and_frees_the_workers(node: Any) -> None:
    dbms = _dbms(node)
    url = start(node, "and threads = 2")
    slow = {"command": f'sql {dbms} "{SLOW[_kind(node)]}"', "timeout": "1"}
    began = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda _: httpx.get(url, headers=slow, timeout=30).status_code, range(4)))
    assert codes == [504] * 4
    # 4 slow requests on 2 workers: the second pair starts once the first pair is stopped, near 1 s later
    assert time.monotonic() - began < 6
    began = time.monotonic()
    r = httpx.get(url, headers={"command": f'sql {dbms} "select count(*) from victim"'}, timeout=30)
    assert r.status_code == 200 and time.monotonic() - began < 1.5, "a worker is still busy with a timed-out query"
    if _kind(node) == "psql":
        active = node.catalog.query(dbms, "select count(*) from pg_stat_activity "
                                          "where datname = current_database() and query like '%pg_sleep%' "
                                          "and state = 'active' and pid <> pg_backend_pid()")
        assert active[1] == [(0,)], "PostgreSQL still runs the cancelled query"


def test_a_peer_that_stops_waiting_stops_its_query(node: Any, tmp_path: Path) -> None:
    from anynode.node import Node

    dbms = _dbms(node)
    reply = node.execute("run tcp server where internal_ip = 127.0.0.1 and internal_port = 0 and bind = true "
                         "and threads = 1")
    addr = re.search(r"127\.0\.0\.1:\d+", reply.to_text())
    assert addr, reply.to_text()
    peer = Node(tmp_path / "peer", name="peer")
    try:
        with pytest.raises(AnyNodeError, match="within 1 s|time ran out"):  # whichever side gives up first
            peer.client().send_command(addr.group(0), f'sql {dbms} "{SLOW[_kind(node)]}"', timeout=1)
        began = time.monotonic()
        out = peer.execute(f'run client ({addr.group(0)}) sql {dbms} format = json "select count(*) as n from victim"')
        assert '"n": 3' in json.dumps(out.to_json())
        assert time.monotonic() - began < 1.5, "the node's only TCP worker still ran the abandoned query"
    finally:
        peer.close()


def test_cancel_token_stops_a_running_query(node: Any) -> None:
    cancel = Cancel()
    limits = QueryLimits(untrusted=True, cancel=cancel)
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(node.catalog.query, _dbms(node), SLOW[_kind(node)], (), limits)
        time.sleep(0.3)
        began = time.monotonic()
        cancel.cancel("test")
        with pytest.raises(QueryCancelled, match="cancelled \\(test\\)"):
            job.result(10)
        assert time.monotonic() - began < 2


def test_a_deadline_stops_a_query_with_nobody_watching(node: Any) -> None:
    """No thread calls cancel(): SQLite's progress handler or PostgreSQL's statement_timeout ends it."""
    began = time.monotonic()
    with pytest.raises(QueryCancelled):
        node.catalog.query(_dbms(node), SLOW[_kind(node)], (), QueryLimits(cancel=Cancel(0.5)))
    assert 0.4 < time.monotonic() - began < 2
    assert node.catalog.query(_dbms(node), "select count(*) from victim")[1] == [(3,)]


# --- memory per request -----------------------------------------------------------------------------------

def test_a_huge_value_is_refused_before_it_is_built(node: Any) -> None:
    if _kind(node) != "sqlite":
        pytest.skip("the value is built in the PostgreSQL server, not in the node")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    url = start(node)
    r = httpx.get(url, headers={"command": f'sql {_dbms(node)} "select length(randomblob(1000000000))"'},
                  timeout=30)
    assert 400 <= r.status_code < 500 and "too big" in r.text
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, f"the node grew by {grown_mb:.0f} MB"


def test_result_size_cap(node: Any) -> None:
    dbms = _dbms(node)
    node.settings = type(node.settings).load(node.home, overrides={"max_result_size": "100KB"})
    big = ("select repeat('x', 1000) from generate_series(1, 500)" if _kind(node) == "psql" else
           "with recursive c(x) as (select 1 union all select x + 1 from c where x < 500) "
           "select printf('%.1000c', 'x') from c")
    with pytest.raises(ResultTooLarge, match="passed 102,400 bytes"):
        node.execute(f'sql {dbms} "{big}"')
    assert "row(s)" in node.execute(f'sql {dbms} "select * from victim"').to_text()
    url = start(node)
    r = httpx.get(url, headers={"command": f'sql {dbms} "{big}"'}, timeout=10)
    assert r.status_code == 400 and "max_result_size" in r.text


# --- a superuser behind the dbms --------------------------------------------------------------------------

def test_superuser_dbms_answers_strangers_only_through_a_reader_role(tmp_path: Path) -> None:
    from anynode.node import Node

    su, plain = pg_settings(SUPER_ENV), pg_settings()
    name = f"t_{uuid.uuid4().hex[:12]}"
    n = Node(tmp_path / "node")
    conn = (f"connect dbms {name} where type = psql and user = {su['user']} and password = {su['password']} "
            f"and ip = {su['host']} and port = {su['port']}")
    try:
        n.execute(conn)
        n.execute(f'sql {name} "create table victim (a integer)"')
        n.catalog.execute(name, f'grant select on victim to {plain["user"]}')
        url = start(n)
        r = httpx.get(url, headers={"command": f"sql {name} \"select pg_read_file('/etc/hostname')\""}, timeout=10)
        assert r.status_code == 403 and "reader_user" in r.text
        with pytest.raises(NotPermitted):
            n.catalog.query(name, "select 1", limits=UNTRUSTED)
        assert n.catalog.query(name, "select 1")[1] == [(1,)], "the local console still reads"
        n.execute(f"disconnect dbms {name}")
        n.execute(f"{conn} and reader_user = {plain['user']} and reader_password = {plain['password']}")
        r = httpx.get(url, headers={"command": f'sql {name} format = json "select count(*) as n from victim"'},
                      timeout=10)
        assert r.status_code == 200 and r.json()["Query"] == [{"n": 0}]
        r = httpx.get(url, headers={"command": f"sql {name} \"select pg_read_file('/etc/hostname')\""}, timeout=10)
        assert r.status_code == 400 and "permission denied" in r.text
    finally:
        backend = n.catalog.get(name).backend if n.catalog.is_connected(name) else None
        n.close()
        if isinstance(backend, PostgresBackend):
            backend.drop_database()

