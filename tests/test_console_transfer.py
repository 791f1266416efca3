"""Ctrl-C during network work: a transfer stops before its next chunk (nothing lands); run client stops waiting."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest

from anynode.cancel import Cancel
from anynode.errors import QueryCancelled
from anynode.grammar.dispatch import Source
from anynode.net.client import NetClient
from anynode.net.transfer import TransferReceiver, send_file
from anynode.node import Node
from anynode.repl.running import CommandThread
from tests.helpers import wait_until
from tests.net_helpers import hanging_peer, running_server

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


@pytest.mark.parametrize("peers", [1, 2])
def test_ctrl_c_stops_waiting_for_peers_that_never_answer(node: Node, peers: int) -> None:
    with contextlib.ExitStack() as stack:
        ports = [stack.enter_context(hanging_peer()) for _ in range(peers)]
        dests = ", ".join(f"127.0.0.1:{p}" for p in ports)
        job = CommandThread(node, f"run client ({dests}, timeout = 20) get status", Source.REPL).start()
        assert not job.done.wait(0.5)  # it waits on the peers
        started = time.monotonic()
        outcome = job.stop("Ctrl-C")
        assert outcome.finished and time.monotonic() - started < 1.0
        assert job.ended().cancelled == "Ctrl-C"
        assert str(outcome.error).count("was cancelled (Ctrl-C)") == peers
