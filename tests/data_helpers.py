"""Shared fixtures for the store and ingest tests.

Import the fixtures a module uses (``from data_helpers import catalog, dbms, ...``).
A test parametrized with
``kind`` runs on SQLite and on a real PostgreSQL given by ``ANYNODE_TEST_PG``
(``eval "$(scripts/services env)"``); without it the PostgreSQL case is skipped,
or fails when ``CI`` is set.
"""

from __future__ import annotations

import gzip
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from anynode.store.catalog import DatabaseCatalog
from anynode.store.pg_backend import PostgresBackend

PG_ENV = "ANYNODE_TEST_PG"
KINDS = ["sqlite", "psql"]


def pg_settings(env: str = PG_ENV) -> dict[str, Any]:
    """user/password/host/port of the test PostgreSQL (the login in ``env``); skips (or fails in CI) when not set."""
    url = os.environ.get(env)
    if not url:
        reason = f"{env} not set (scripts/services start postgres; eval \"$(scripts/services env)\")"
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(reason)
    u = urlsplit(url)
    return {"user": u.username, "password": u.password, "host": u.hostname or "127.0.0.1", "port": u.port or 5432}


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[DatabaseCatalog]:
    """A catalog with its SQLite files under the test's tmp dir; closed (writers joined) afterwards."""
    cat = DatabaseCatalog(tmp_path / "dbms")
    try:
        yield cat
    finally:
        cat.close()


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``psql`` (the latter needs ANYNODE_TEST_PG)."""
    if request.param == "psql":
        pg_settings()
    return str(request.param)


def connect(cat: DatabaseCatalog, kind: str, name: str | None = None) -> str:
    """Connect a fresh data database of ``kind``; returns its name (unique on PostgreSQL)."""
    if kind == "sqlite":
        name = name or "demo"
        cat.connect(name)
    else:
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        cat.connect(name, "psql", **pg_settings())
    return name


@pytest.fixture
def dbms(catalog: DatabaseCatalog, kind: str) -> Iterator[str]:
    """A connected data database on each backend; a PostgreSQL one is dropped afterwards."""
    name = connect(catalog, kind)
    backend = catalog.get(name).backend
    try:
        yield name
    finally:
        if catalog.is_connected(name):
            catalog.disconnect(name)
        if isinstance(backend, PostgresBackend):
            backend.drop_database()


def write_rows(directory: Path, name: str, rows: list[dict[str, Any]], shape: str = "array") -> Path:
    """Write rows as a data file: shape ``array``, ``lines``, ``object`` (one row) or ``pretty`` objects."""
    if shape == "array":
        text = json.dumps(rows)
    elif shape == "lines":
        text = "".join(json.dumps(r) + "\n" for r in rows)
    elif shape == "object":
        assert len(rows) == 1
        text = json.dumps(rows[0], indent=2)
    elif shape == "pretty":
        text = "\n".join(json.dumps(r, indent=2) for r in rows)
    else:
        raise ValueError(shape)
    return write_bytes(directory, name, text.encode())


def write_bytes(directory: Path, name: str, data: bytes) -> Path:
    """Write raw bytes to ``directory/name`` (gzip-compressed when the name ends with .gz)."""
    path = directory / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def count(cat: DatabaseCatalog, dbms: str, table: str) -> int:
    """Rows in a table."""
    return int(cat.query(dbms, f"SELECT count(*) FROM {table}")[1][0][0])


def table_exists(cat: DatabaseCatalog, dbms: str, table: str) -> bool:
    """True when the table is there."""
    return table in cat.tables(dbms)


@pytest.fixture
def node_db(node: Any, kind: str) -> Iterator[str]:  # noqa: F811
    """A database of each kind connected on ``node`` with the user's command; a PostgreSQL one is dropped after."""
    if kind == "sqlite":
        node.execute("connect dbms demo where type = sqlite")
        yield "demo"
        return
    pg = pg_settings()
    name = f"t_{uuid.uuid4().hex[:10]}"
    node.execute(f"connect dbms {name} where type = psql and user = {pg['user']} and password = {pg['password']} "
                 f"and ip = {pg['host']} and port = {pg['port']}")
    backend = node.catalog.get(name).backend
    try:
        yield name
    finally:
        if node.catalog.is_connected(name):  # a test may have disconnected it
            node.catalog.disconnect(name)
        backend.drop_database()
