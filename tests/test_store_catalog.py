"""connect dbms / get databases / tables / sql: the catalog on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from anynode.errors import NoSuchDatabase, StoreError
from anynode.store.catalog import DatabaseCatalog
from anynode.store.pg_backend import PostgresBackend
from tests.data_helpers import catalog, connect, dbms, kind, pg_settings  # noqa: F401


def test_sqlite_database_is_one_file_named_after_it(catalog: DatabaseCatalog, tmp_path: Path) -> None:
    info = catalog.connect("Demo")
    assert info.name == "demo" and info.type == "sqlite" and info.owner == "user"
    assert (tmp_path / "dbms" / "demo.dbms").is_file()
    assert info.storage == str(tmp_path / "dbms" / "demo.dbms")


def test_get_databases_lists_owner_system_for_node_databases(catalog: DatabaseCatalog) -> None:
    for name in ("demo", "almgm", "blockchain", "system_query"):
        catalog.connect(name)
    owners = {d.name: d.owner for d in catalog.databases()}
    assert owners == {"almgm": "system", "blockchain": "system", "demo": "user", "system_query": "system"}
    assert [d.name for d in catalog.databases()] == sorted(owners)


def test_reconnect_same_type_is_silent_other_type_is_refused(catalog: DatabaseCatalog) -> None:
    first = catalog.connect("demo")
    assert catalog.connect("demo", "sqlite") == first
    assert [t.name for t in threading.enumerate()].count("anynode:writer:demo") == 1
    with pytest.raises(StoreError, match="already connected as sqlite") as e:
        catalog.connect("demo", "psql")
    assert "disconnect dbms demo" in (e.value.hint or "")


def test_unknown_type_is_anylog_wrong_dbms_type(catalog: DatabaseCatalog) -> None:
    with pytest.raises(StoreError, match="Wrong DBMS type 'mongo'") as e:
        catalog.connect("demo", "mongo")
    assert e.value.anylog_code == 104
    assert "sqlite" in (e.value.hint or "") and "psql" in (e.value.hint or "")


def test_bad_database_name_is_refused(catalog: DatabaseCatalog) -> None:
    with pytest.raises(StoreError, match="Invalid database name"):
        catalog.connect("my-db")


def test_unknown_database_says_how_to_connect_it(catalog: DatabaseCatalog) -> None:
    with pytest.raises(NoSuchDatabase) as e:
        catalog.query("nope", "SELECT 1")
    assert e.value.message == "Logical DBMS 'nope' not connected"
    assert e.value.hint == "connect dbms nope where type = sqlite"
    assert e.value.anylog_code == 5


def test_memory_database(catalog: DatabaseCatalog) -> None:
    info = catalog.connect("scratch", memory=True)
    assert info.storage == "memory"
    catalog.execute("scratch", "CREATE TABLE t (x INTEGER)")
    catalog.execute("scratch", "INSERT INTO t VALUES (42)")
    assert catalog.query("scratch", "SELECT x FROM t") == (["x"], [(42,)])


def test_disconnect_stops_the_writer_and_forgets_the_database(catalog: DatabaseCatalog) -> None:
    catalog.connect("demo")
    catalog.disconnect("demo")
    assert "anynode:writer:demo" not in [t.name for t in threading.enumerate()]
    assert not catalog.is_connected("demo")
    with pytest.raises(NoSuchDatabase):
        catalog.tables("demo")
    with pytest.raises(NoSuchDatabase):
        catalog.disconnect("demo")


def test_execute_query_tables_columns(catalog: DatabaseCatalog, dbms: str) -> None:
    catalog.execute(dbms, "CREATE TABLE readings (id INTEGER, name TEXT)")
    assert catalog.execute(dbms, "INSERT INTO readings VALUES (1, 'a'), (2, 'b')") == 2
    assert catalog.tables(dbms) == ["readings"]
    assert [c for c, _ in catalog.columns(dbms, "readings")] == ["id", "name"]
    cols, rows = catalog.query(dbms, "SELECT id, name FROM readings ORDER BY id")
    assert cols == ["id", "name"] and rows == [(1, "a"), (2, "b")]


def test_query_with_parameters(catalog: DatabaseCatalog, dbms: str, kind: str) -> None:
    catalog.execute(dbms, "CREATE TABLE t (x INTEGER)")
    catalog.execute(dbms, "INSERT INTO t VALUES (1), (2), (3)")
    mark = "?" if kind == "sqlite" else "%s"
    assert catalog.query(dbms, f"SELECT x FROM t WHERE x > {mark} ORDER BY x", (1,))[1] == [(2,), (3,)]


@pytest.mark.parametrize("sql", ["DELETE FROM t", "drop table t", "INSERT INTO t VALUES (9)", "  update t set x = 1"])
def test_read_path_refuses_statements_that_are_not_queries(catalog: DatabaseCatalog, dbms: str, sql: str) -> None:
    catalog.execute(dbms, "CREATE TABLE t (x INTEGER)")
    with pytest.raises(StoreError, match="SQL failed on .*(not authorized|read-only transaction)"):
        catalog.query(dbms, sql)
    assert catalog.tables(dbms) == ["t"]


def test_read_connection_is_read_only_even_when_the_text_looks_like_a_query(catalog: DatabaseCatalog,
                                                                            dbms: str) -> None:
    catalog.execute(dbms, "CREATE TABLE t (x INTEGER)")
    catalog.execute(dbms, "INSERT INTO t VALUES (1)")
    with pytest.raises(StoreError, match="SQL failed"):
        catalog.query(dbms, "WITH d AS (SELECT 1) DELETE FROM t")
    assert catalog.query(dbms, "SELECT count(*) FROM t")[1][0][0] == 1


def test_reused_read_connections_see_every_commit_and_stay_read_only(catalog: DatabaseCatalog,
                                                                    dbms: str) -> None:
    catalog.execute(dbms, "CREATE TABLE t (x INTEGER)")
    for n in range(1, 6):  # each query after a commit, on a read connection used before
        catalog.execute(dbms, f"INSERT INTO t VALUES ({n})")
        assert catalog.query(dbms, "SELECT count(*) FROM t")[1][0][0] == n
        with pytest.raises(StoreError):
            catalog.query(dbms, "WITH d AS (SELECT 1) DELETE FROM t")
    catalog.execute(dbms, "ALTER TABLE t ADD COLUMN y INTEGER")  # a schema change is seen too
    assert catalog.query(dbms, "SELECT x, y FROM t ORDER BY x")[1][0] == (1, None)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(catalog.query(dbms, "SELECT count(*) FROM t")[1][0][0]))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [5] * 8


def test_bad_sql_is_a_store_error_with_sql_failure_code(catalog: DatabaseCatalog, dbms: str) -> None:
    with pytest.raises(StoreError, match="SQL failed") as e:
        catalog.query(dbms, "SELECT * FROM no_such_table")
    assert e.value.anylog_code == 16
    with pytest.raises(StoreError, match="SQL failed"):
        catalog.execute(dbms, "CREATE TABLE (")


def test_columns_of_a_missing_table(catalog: DatabaseCatalog, dbms: str) -> None:
    with pytest.raises(StoreError, match="Table 'nope' not found"):
        catalog.columns(dbms, "nope")


def test_postgres_database_is_created_when_missing(catalog: DatabaseCatalog) -> None:
    name = connect(catalog, "psql")
    backend = catalog.get(name).backend
    try:
        info = catalog.databases()[0]
        assert (info.name, info.type) == (name, "psql")
        assert info.storage.endswith(f"/{name}")
        assert catalog.tables(name) == []
    finally:
        catalog.disconnect(name)
        assert isinstance(backend, PostgresBackend)
        backend.drop_database()


def test_postgres_wrong_password_is_one_clear_line(catalog: DatabaseCatalog) -> None:
    s = pg_settings()
    with pytest.raises(StoreError, match="failed to connect") as e:
        catalog.connect("x_wrong_pw", "psql", user=s["user"], password="not-it", host=s["host"], port=s["port"])
    assert "\n" not in e.value.message
    assert "password" in (e.value.hint or "")
    assert not catalog.is_connected("x_wrong_pw")


def test_memory_is_only_for_sqlite(catalog: DatabaseCatalog) -> None:
    with pytest.raises(StoreError, match="only for sqlite"):
        catalog.connect("demo", "psql", memory=True)
