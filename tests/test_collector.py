"""A node process runs the collector less often: ingest's short-lived rows are freed before a collection sees them."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from anynode.cli import cli
from anynode.collector import NODE_THRESHOLDS, tune_for_node
from anynode.ingest.pipeline import ingest_file
from anynode.store.catalog import DatabaseCatalog


@pytest.fixture
def thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def _nested_files(directory: Path, files: int, rows: int) -> list[Path]:
    out = []
    for f in range(files):
        body = b"".join(orjson.dumps({"ts": f"2026-01-01T00:{f:02d}:{i % 60:02d}.{i % 1000:03d}Z",
                                      "readings": {"temp": i / 7, "hum": i / 3}, "tags": ["a", f"s{i % 5}"]})
                        + b"\n" for i in range(rows))
        path = directory / f"demo.nested.f{f}.json"
        path.write_bytes(body)
        out.append(path)
    return out


def _collections_during_ingest(tmp_path: Path, name: str) -> int:
    counted = [0]

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            counted[0] += 1

    (tmp_path / name).mkdir()
    paths = _nested_files(tmp_path / name, 10, 2_500)
    with DatabaseCatalog(tmp_path / f"{name}-dbms") as cat:
        cat.connect("demo")
        cat.connect("almgm")
        gc.collect()
        gc.callbacks.append(count)
        try:
            for p in paths:
                ingest_file(p, cat)
        finally:
            gc.callbacks.remove(count)
        assert cat.query("demo", "SELECT count(*) FROM nested")[1][0][0] == 25_000
    return counted[0]


def test_nested_rows_set_off_few_collections_at_the_node_thresholds(tmp_path: Path, thresholds: None) -> None:
    gc.set_threshold(700, 10, 10)  # the interpreter's default
    default = _collections_during_ingest(tmp_path, "default")
    tune_for_node()
    tuned = _collections_during_ingest(tmp_path, "tuned")
    assert default >= 50  # each file's rows traced several times over (about 10 a file when measured)
    assert tuned <= 5, f"{tuned} collections for 10 files at the node's thresholds"


def test_opening_a_node_from_the_command_line_sets_the_thresholds(tmp_path: Path, thresholds: None) -> None:
    gc.set_threshold(700, 10, 10)
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "-e", "get status"])
    assert result.exit_code == 0, result.output
    assert gc.get_threshold() == NODE_THRESHOLDS
