"""Helpers of the partition tests: a database connected on a node with 'connect dbms', on each engine."""

from __future__ import annotations

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
        backend.drop_database()


def partitions(node: Node, db: str, table: str = "t") -> list[str]:
    """The partitions of a table, oldest first, as 'get partitions' lists them."""
    found = node.execute(f"get partitions where dbms = {db} and table = {table} and format = json").to_json()
    return [p["partition"] for p in found.get(table, [])]
