"""File transfer: verified chunks, atomic arrival, nothing left behind on failure."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from anynode.errors import ConfigError
from anynode.net.client import NetClient
from anynode.net.errors import ConnectionLost, TransferError, Unreachable
from anynode.net.transfer import TransferReceiver, safe_name, send_file
from tests.helpers import free_port, wait_until
from tests.net_helpers import running_server

pytestmark = pytest.mark.timeout(60)


@pytest.fixture()
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "staging", tmp_path / "watch"


def receiver_server(receiver: TransferReceiver, **kwargs):
    return running_server(receiver.handle, housekeeping=receiver.sweep, **kwargs)


def make_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        written = 0
        while written < size:
            piece = block[: min(len(block), size - written)]
            fh.write(piece)
            digest.update(piece)
            written += len(piece)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def chunk_header(tid: str, name: str, offset: int, data: bytes, **extra) -> dict:
    return {"kind": "file", "transfer": tid, "name": name, "target": "watch", "offset": offset,
            "sha256": hashlib.sha256(data).hexdigest(), **extra}


def test_fifty_megabyte_file_arrives_verified(tmp_path, dirs):
    staging, watch = dirs
    src = tmp_path / "big.bin"
    digest = make_file(src, 50 * 1000 * 1000 + 123)
    receiver = TransferReceiver(staging, {"watch": watch})
    with receiver_server(receiver) as server, NetClient() as client:
        report = send_file(client, f"127.0.0.1:{server.port}", src, name="sensor.bin", timeout=10)
        assert client.stats()["connects"] == 1  # every chunk on the same pooled connection
    assert (report.size, report.sha256, report.chunks) == (50_000_123, digest, 48)
    assert sorted(p.name for p in watch.iterdir()) == ["sensor.bin"]
    assert sha256_of(watch / "sensor.bin") == digest
    assert list(staging.iterdir()) == []
    assert receiver.completed == 1 and receiver.active() == []


def test_empty_and_small_files_arrive(tmp_path, dirs):
    staging, watch = dirs
    (tmp_path / "empty.json").write_bytes(b"")
    (tmp_path / "row.json").write_bytes(b'{"value": 1}\n')
    receiver = TransferReceiver(staging, {"watch": watch})
    with receiver_server(receiver) as server, NetClient() as client:
        dest = f"127.0.0.1:{server.port}"
        assert send_file(client, dest, tmp_path / "empty.json").size == 0
        assert send_file(client, dest, tmp_path / "row.json", chunk_size=5).chunks == 3
    assert (watch / "empty.json").read_bytes() == b""
    assert (watch / "row.json").read_bytes() == b'{"value": 1}\n'


def test_transfer_cut_in_the_middle_leaves_nothing_behind(dirs):
    staging, watch = dirs
    receiver = TransferReceiver(staging, {"watch": watch}, abandon_after=0.3)
    tid = "ab" * 16
    with receiver_server(receiver, housekeeping_interval=0.1) as server:
        with NetClient() as client:
            chunk = b"x" * 1000
            for i in range(3):
                header = chunk_header(tid, "cut.json", i * 1000, chunk)
                reply, _ = client.request(f"127.0.0.1:{server.port}", header, chunk, 3)
            assert reply["received"] == 3000
            assert [p.name for p in staging.iterdir()] == [f"{tid}.part"]
        # the sender's connection is gone; the receiver abandons the transfer on its own
        assert wait_until(lambda: list(staging.iterdir()) == [], timeout=3)
    assert list(watch.iterdir()) == []
    assert receiver.failed == 1 and receiver.active() == []


def test_sender_facing_a_server_that_stops_mid_transfer_gets_a_clear_error(tmp_path, dirs):
    staging, watch = dirs
    src = tmp_path / "data.bin"
    make_file(src, 8 << 20)
    receiver = TransferReceiver(staging, {"watch": watch})
    errors: list[Exception] = []
    with NetClient() as client:
        with receiver_server(receiver) as server:
            release = threading.Event()

            def stop_during_third_chunk(header, payload):
                if header.get("offset") == 2 << 20:
                    server.shutdown()  # the node stops: the connection is cut before the reply
                    release.wait(0.5)
                return receiver.handle(header, payload)

            server.handler = stop_during_third_chunk
            try:
                send_file(client, f"127.0.0.1:{server.port}", src, chunk_size=1 << 20, timeout=3)
            except Exception as exc:  # noqa: BLE001 - inspected below
                errors.append(exc)
            finally:
                release.set()
        assert len(errors) == 1 and isinstance(errors[0], (Unreachable, ConnectionLost))
        assert f"sending data.bin to 127.0.0.1:{server.port} failed after 2097152 bytes" in str(errors[0])
        assert list(watch.iterdir()) == []
        receiver.close()  # what the TCP service does when it stops
        assert list(staging.iterdir()) == []
        with pytest.raises(Unreachable, match="after 0 bytes: cannot reach"):
            send_file(client, f"127.0.0.1:{free_port()}", src, timeout=2)


def test_corrupted_chunk_is_refused_and_cleaned(dirs):
    staging, watch = dirs
    receiver = TransferReceiver(staging, {"watch": watch})
    tid = "cd" * 16
    with receiver_server(receiver) as server, NetClient() as client:
        dest = f"127.0.0.1:{server.port}"
        client.request(dest, chunk_header(tid, "a.json", 0, b"good"), b"good", 3)
        header = chunk_header(tid, "a.json", 4, b"sent")
        with pytest.raises(TransferError, match="at offset 4 fails its SHA-256 check"):
            client.request(dest, header, b"SENT", 3)  # bytes changed on the way
        with pytest.raises(TransferError, match="unknown here"):
            client.request(dest, chunk_header(tid, "a.json", 4, b"more"), b"more", 3)
    assert list(watch.iterdir()) == [] and list(staging.iterdir()) == []


def test_whole_file_hash_or_size_mismatch_publishes_nothing(dirs):
    staging, watch = dirs
    receiver = TransferReceiver(staging, {"watch": watch})
    with receiver_server(receiver) as server, NetClient() as client:
        dest = f"127.0.0.1:{server.port}"
        data = b"0123456789"
        bad_hash = chunk_header("ef" * 16, "h.json", 0, data, last=True, file_size=10, file_sha256="0" * 64)
        with pytest.raises(TransferError, match="whole-file SHA-256"):
            client.request(dest, bad_hash, data, 3)
        bad_size = chunk_header("fe" * 16, "s.json", 0, data, last=True, file_size=11,
                                file_sha256=hashlib.sha256(data).hexdigest())
        with pytest.raises(TransferError, match="received 10 bytes but the sender sent 11"):
            client.request(dest, bad_size, data, 3)
        skipped = chunk_header("aa" * 16, "o.json", 0, data)
        client.request(dest, skipped, data, 3)
        with pytest.raises(TransferError, match="at offset 20, expected 10"):
            client.request(dest, chunk_header("aa" * 16, "o.json", 20, data), data, 3)
    assert list(watch.iterdir()) == [] and list(staging.iterdir()) == []


@pytest.mark.parametrize("name", ["../escape.json", "a/b.json", "..", "x..json", "", "/etc/passwd", "c:\\x"])
def test_path_traversal_names_are_refused_by_sender_and_receiver(tmp_path, dirs, name):
    staging, watch = dirs
    src = tmp_path / "f.json"
    src.write_bytes(b"{}")
    with pytest.raises(TransferError, match="not a plain file name|refused"):
        safe_name(name)
    receiver = TransferReceiver(staging, {"watch": watch})
    with receiver_server(receiver) as server, NetClient() as client:
        with pytest.raises(TransferError):
            send_file(client, f"127.0.0.1:{server.port}", src, name=name)
        header = chunk_header("bc" * 16, name, 0, b"{}", last=True, file_size=2,
                              file_sha256=hashlib.sha256(b"{}").hexdigest())
        with pytest.raises(TransferError, match="refused the request"):
            client.request(f"127.0.0.1:{server.port}", header, b"{}", 3)  # a hostile sender
    assert list(watch.iterdir()) == [] and list(staging.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json", "staging", "watch"]


def test_unknown_target_is_refused_with_the_valid_ones(tmp_path, dirs):
    staging, watch = dirs
    (tmp_path / "f.json").write_bytes(b"{}")
    receiver = TransferReceiver(staging, {"watch": watch, "prep": tmp_path / "prep"})
    with receiver_server(receiver) as server, NetClient() as client:
        with pytest.raises(TransferError, match="unknown transfer target 'etc'") as info:
            send_file(client, f"127.0.0.1:{server.port}", tmp_path / "f.json", target="etc")
    assert info.value.hint == "use one of ['prep', 'watch']"


def test_sweep_abandons_only_idle_transfers():
    class Clock:
        now = 100.0

        def __call__(self) -> float:
            return self.now

    import tempfile

    clock = Clock()
    with tempfile.TemporaryDirectory() as root:
        receiver = TransferReceiver(Path(root) / "s", {"watch": Path(root) / "w"}, abandon_after=10, clock=clock)
        receiver.handle(chunk_header("11" * 16, "old.json", 0, b"a"), b"a")
        clock.now += 8
        receiver.handle(chunk_header("22" * 16, "new.json", 0, b"b"), b"b")
        clock.now += 5
        assert receiver.sweep() == 1
        assert [t["name"] for t in receiver.active()] == ["new.json"]
        assert sorted(os.listdir(Path(root) / "s")) == [f"{'22' * 16}.part"]
        receiver.close()
        assert os.listdir(Path(root) / "s") == []


def test_staging_on_another_filesystem_is_a_config_error(tmp_path):
    if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem to test with")
    import tempfile

    with tempfile.TemporaryDirectory(dir="/dev/shm") as other:
        with pytest.raises(ConfigError, match="not on the filesystem of the staging dir"):
            TransferReceiver(tmp_path / "staging", {"watch": Path(other) / "watch"})
