"""The garbage collector's thresholds for a node process.

Ingest makes containers that live for one batch: each nested JSON row is a
dict and a list, and a batch's rows stay alive until its columns are built.
At Python's default (a young collection every 700 net new containers) a
file of 2,500 such rows sets off about ten young collections, each tracing
the batches still in flight, and promotes them, so that full collections
trace them again: 0.31-0.35 s of 2.2 s for 100 such files (measured with
``gc.callbacks`` around the operator). Raising the first threshold lets a
batch's rows be freed by reference counting before any collection sees
them; cycles are still found, once 50,000 containers more are alive than
at the last collection (a few MB at most).

Set by the command line when it opens a node (the process is that node's),
and by the ingest benchmark around the node it measures; tests and library
users keep the interpreter's default unless they ask.
"""

from __future__ import annotations

import gc

NODE_THRESHOLDS = (50_000, 10, 10)


def tune_for_node() -> tuple[int, int, int]:
    """Set the node's thresholds; returns the previous ones (to restore them)."""
    before = gc.get_threshold()
    gc.set_threshold(*NODE_THRESHOLDS)
    return before
