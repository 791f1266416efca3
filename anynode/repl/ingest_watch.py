"""What the prompt says about ingest while a person waits: the live rate in the toolbar, failed files above the prompt.

* :class:`IngestRate`: the toolbar's ``ingest: <rows> rows, <rate> rows/s,
  <n> waiting, <n> failed`` from the Operator's counters, the rate measured
  between two redraws (the toolbar redraws every second).
* :class:`FailedFiles`: a log handler on the node's logger that turns the
  Operator's "file moved to the error directory" record into one line above
  the prompt, as it happens: ``ingest failed: <file> (code <n>): <reason>``.
  It reads the record's arguments (file, error-file name, reason), never the
  formatted text.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from anynode.protocols import NodeView

_FAILED = "operator: %s -> %s: %s"  # the Operator's record for a file moved to the error directory
_CODE = re.compile(r"\.err_(\d+)\.")  # <name>.err_<code>.<n>.json: the error file's name carries the code


class IngestRate:
    """The toolbar's ingest part for one node; empty while no Operator runs."""

    def __init__(self, node: NodeView, clock: Callable[[], float] = time.monotonic) -> None:
        self.node = node
        self.clock = clock
        self._last: tuple[float, int] | None = None
        self._rate = 0.0

    def text(self) -> str:
        """`` | ingest: ...`` or ``""``."""
        if "Operator" not in self.node.user_services():
            self._last = None
            return ""
        service = self.node.services.get("Operator")
        info = service.info() if service is not None else {}
        rows = int(info.get("rows") or 0)
        now = self.clock()
        if self._last is not None and now - self._last[0] >= 0.5:
            self._rate = max(rows - self._last[1], 0) / (now - self._last[0])
            self._last = (now, rows)
        elif self._last is None:
            self._last = (now, rows)
        waiting = int(info.get("pending") or 0) + int(info.get("in_flight") or 0)
        return (f" | ingest: {rows:,} rows, {self._rate:,.0f} rows/s, {waiting} waiting, "
                f"{int(info.get('errors') or 0)} failed")


class FailedFiles(logging.Handler):
    """Says each file the Operator refused, in one line, through ``say``."""

    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self.say = say

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if record.msg != _FAILED or not isinstance(args, tuple) or len(args) != 3:
            return
        name, target, reason = (str(a) for a in args)
        found = _CODE.search(target)
        code = f" (code {found.group(1)})" if found else ""
        try:
            self.say(f"ingest failed: {name}{code}: {reason}")
        except Exception:  # noqa: BLE001 - a closed terminal must not break the operator's logging
            self.handleError(record)
