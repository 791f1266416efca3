"""atomic_write / load_with_fallback, including a writer killed with SIGKILL mid-write."""

from __future__ import annotations

import json
import logging
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from anynode.errors import StoreError
from anynode.fileio import atomic_write, backup_path, load_with_fallback

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = 4 * 1024 * 1024

WRITER = """
import json, sys
from anynode.fileio import atomic_write
path, size = sys.argv[1], int(sys.argv[2])
gen = 0
while True:
    gen += 1
    data = json.dumps({"gen": gen, "payload": "x" * size, "end": True}).encode()
    print("writing", gen, flush=True)
    atomic_write(path, data)
    print("done", gen, flush=True)
"""


def parse_generation(data: bytes) -> int:
    """A strict parser: only a complete generation parses."""
    doc = json.loads(data)
    if doc.get("end") is not True or len(doc["payload"]) != PAYLOAD:
        raise ValueError("incomplete generation")
    return int(doc["gen"])


def test_write_keeps_the_previous_generation_as_backup(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    atomic_write(path, b'{"v": 1}')
    assert not backup_path(path).exists()
    atomic_write(path, b'{"v": 2}')
    atomic_write(path, b'{"v": 3}')
    assert path.read_bytes() == b'{"v": 3}'
    assert backup_path(path).read_bytes() == b'{"v": 2}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.json", "ledger.json.backup"]  # no temp left


@pytest.mark.parametrize("damage", [b"", b'{"v": 3', b"\x00\x00\x00"])
def test_load_falls_back_to_backup_with_a_warning(tmp_path: Path, damage: bytes,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "ledger.json"
    atomic_write(path, b'{"v": 1}')
    atomic_write(path, b'{"v": 2}')
    path.write_bytes(damage)  # what a non-atomic writer could have left
    with caplog.at_level(logging.WARNING):
        assert load_with_fallback(path, json.loads) == {"v": 1}
    assert "loaded the previous generation from" in caplog.text
    assert str(backup_path(path)) in caplog.text


def test_load_reads_the_main_file_when_it_is_fine(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.json"
    atomic_write(path, b'{"v": 1}')
    atomic_write(path, b'{"v": 2}')
    with caplog.at_level(logging.WARNING):
        assert load_with_fallback(path, json.loads) == {"v": 2}
    assert caplog.text == ""


def test_missing_files_give_the_default_or_file_not_found(tmp_path: Path) -> None:
    assert load_with_fallback(tmp_path / "none.json", json.loads, default={}) == {}
    with pytest.raises(FileNotFoundError):
        load_with_fallback(tmp_path / "none.json", json.loads)


def test_nothing_parses_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    path.write_bytes(b"{broken")
    backup_path(path).write_bytes(b"")
    with pytest.raises(StoreError) as info:
        load_with_fallback(path, json.loads, default={})
    assert info.value.message.startswith(f"cannot load {path}: {path} does not parse (JSONDecodeError")
    assert info.value.message.endswith(f"{backup_path(path)} is empty")


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_sigkill_mid_write_leaves_a_complete_generation(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Kill a writer looping over large generations; the next load gets a complete one.

    Repeated until one kill lands while a temp file exists (the kill hit the
    write itself): then the load must give exactly the previous generation.
    """
    rng = random.Random(7)
    mid_write_kills = 0
    for attempt in range(8):
        path = tmp_path / f"ledger{attempt}.json"
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(PAYLOAD)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        target = 3 + attempt % 3
        writing = 0
        for line in proc.stdout:
            word, gen = line.split()
            if word == "writing":
                writing = int(gen)
                if writing >= target:
                    break
        time.sleep(rng.uniform(0, 0.01))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
        strays = [p for p in tmp_path.iterdir() if p.name.startswith(f".{path.name}.")]
        with caplog.at_level(logging.WARNING):
            loaded = load_with_fallback(path, parse_generation)
        assert loaded in (writing - 1, writing)
        if strays:
            mid_write_kills += 1
            assert loaded == writing - 1  # the new generation was not in place yet
            assert "the node was probably stopped while writing" in caplog.text
            assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".{path.name}.")]
        if mid_write_kills >= 2:
            break
    assert mid_write_kills >= 1, "no kill landed during a write; make the payload bigger"
