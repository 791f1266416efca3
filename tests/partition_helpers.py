"""Helpers of the partition tests: a database connected on a node with 'connect dbms', on each engine."""

from __future__ import annotations

import pytest

from anynode.node import Node
from tests.data_helpers import node_db  # noqa: F401  (fixture)


@pytest.fixture
def db(node_db: str) -> str:
    """A database connected with 'connect dbms' on each engine (tests/data_helpers.py: node_db)."""
    return node_db


def partitions(node: Node, db: str, table: str = "t") -> list[str]:
    """The partitions of a table, oldest first, as 'get partitions' lists them."""
    found = node.execute(f"get partitions where dbms = {db} and table = {table} and format = json").to_json()
    return [p["partition"] for p in found.get(table, [])]
