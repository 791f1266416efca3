"""Signals (placeholder until the lifecycle work lands)."""

from __future__ import annotations

import os
import signal
from typing import Any


def install(node: Any) -> None:
    """SIGTERM/SIGINT ask the node to exit; a second one forces it."""

    def on_signal(signum: int, frame: Any) -> None:
        if node.exit_event.is_set():
            os._exit(1)
        node.request_exit()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
