"""Ctrl-C during a file transfer: it stops before the next chunk, the receiver drops what came, nothing lands."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from anynode.cancel import Cancel
from anynode.errors import QueryCancelled
from anynode.net.client import NetClient
from anynode.net.transfer import TransferReceiver, send_file
from tests.helpers import wait_until
from tests.net_helpers import running_server

pytestmark = pytest.mark.timeout(60)


def test_a_cancelled_transfer_stops_between_chunks_and_leaves_nothing(tmp_path: Path) -> None:
    staging, watch = tmp_path / "staging", tmp_path / "watch"
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(4 << 20))
    receiver = TransferReceiver(staging, {"watch": watch})
    cancel = Cancel()

    def ctrl_c_during_the_second_chunk(header, payload):  # type: ignore[no-untyped-def]
        if header.get("offset") == 1 << 20:
            cancel.cancel("Ctrl-C")
        return receiver.handle(header, payload)

    with running_server(ctrl_c_during_the_second_chunk, housekeeping=receiver.sweep) as server, NetClient() as client:
        with pytest.raises(QueryCancelled) as info:
            send_file(client, f"127.0.0.1:{server.port}", src, chunk_size=1 << 20, timeout=5, cancel=cancel)
        assert f"sending big.bin to 127.0.0.1:{server.port} failed after 2097152 bytes: cancelled (Ctrl-C)" \
            == info.value.message
        assert not watch.exists() or list(watch.iterdir()) == []
        wait_until(lambda: receiver.active() == [], 5, "the receiver to drop the aborted transfer")
    receiver.close()
