"""Big files stream: memory stays bounded whatever the file size (the 1 GB target, scaled down)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIMIT_MB = 200

# The child's own peak: VmHWM belongs to its address space, made new at exec. (getrusage's ru_maxrss
# survives exec, so a child forked from a big pytest process reported the parent's size, 334 MB, in CI.)
CHILD = r"""
import re, sys
from anynode.store.catalog import DatabaseCatalog
from anynode.ingest.pipeline import ingest_file
with DatabaseCatalog(sys.argv[1]) as cat:
    cat.connect("big")
    report = ingest_file(sys.argv[2], cat)
peak_kb = int(re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read()).group(1))
print(report.rows, peak_kb // 1024)
"""


def _write_big(path: Path, rows: int, shape: str) -> None:
    line = '{"timestamp": "2026-01-01T00:00:%02dZ", "device": "dev-%d", "value": %d.25, "note": "%s"}'
    with open(path, "w") as f:
        f.write("[\n" if shape == "array" else "")
        for i in range(rows):
            sep = ",\n" if shape == "array" and i < rows - 1 else "\n"
            f.write(line % (i % 60, i % 97, i, "x" * 40) + sep)
        f.write("]\n" if shape == "array" else "")


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["lines", "array"])
def test_a_big_file_is_ingested_in_bounded_memory(tmp_path: Path, shape: str) -> None:
    rows = 300_000  # ~40 MB: ten times the whole-file threshold; parsing it whole would take ~400 MB
    path = tmp_path / "big.sensor.json"
    _write_big(path, rows, shape)
    assert path.stat().st_size > 35 * 2**20
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "dbms"), str(path)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    n, peak_mb = map(int, out.stdout.split())
    assert n == rows
    assert peak_mb < LIMIT_MB, f"peak RSS {peak_mb} MB"
