"""Helpers of the partition tests: a database connected on a node with 'connect dbms', on each engine."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from anynode.node import Node
from anynode.store.pg_backend import PostgresBackend
from tests.data_helpers import pg_settings


@pytest.fixture
def db(node: Node, kind: str) -> Iterator[str]:
    """A database connected with 'connect dbms' on each engine; a PostgreSQL one is dropped afterwards."""
    if kind == "sqlite":
        node.execute("connect dbms demo where type = sqlite")
        yield "demo"
        return
    pg = pg_settings()
    name = f"t_{uuid.uuid4().hex[:12]}"
    node.execute(f"connect dbms {name} where type = psql and user = {pg['user']} and password = {pg['password']} "
                 f"and ip = {pg['host']} and port = {pg['port']}")
    backend = node.catalog.get(name).backend
    try:
        yield name
    finally:
        if node.catalog.is_connected(name):
            node.catalog.disconnect(name)
        assert isinstance(backend, PostgresBackend)
        drop_database(backend)


def drop_database(backend: PostgresBackend, tries: int = 20) -> None:
    """Drop a test database; autovacuum, which a big table wakes, may hold it a moment and FORCE cannot end it."""
    for attempt in range(tries):
        try:
            backend.drop_database()
            return
        except Exception as exc:  # noqa: BLE001  (psycopg's InsufficientPrivilege while autovacuum works)
            if attempt == tries - 1 or "must be a member of the role" not in str(exc):
                raise
            time.sleep(0.5)


def partitions(node: Node, db: str, table: str = "t") -> list[str]:
    """The partitions of a table, oldest first, as 'get partitions' lists them."""
    found = node.execute(f"get partitions where dbms = {db} and table = {table} and format = json").to_json()
    return [p["partition"] for p in found.get(table, [])]
