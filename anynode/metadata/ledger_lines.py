"""Reading one ledger generation's bytes: a policy per line, ``deleted`` tombstones applied.

Pure code over bytes (``ledger.py`` keeps the file, the generations and
the writes). The fast path decodes every line in one ``json.loads``.
"""

from __future__ import annotations

import json
from typing import Any

from anynode.metadata.frozen import FrozenDict, freeze, loads_frozen
from anynode.metadata.policy import PolicyError, policy_id_of, policy_type
from anynode.safejson import MAX_DEPTH, deeper_than

Entry = tuple[bytes, FrozenDict]
"""A policy's line as in the file, and the policy (read-only)."""


def _one_policy(n: int, line: bytes) -> FrozenDict:
    try:
        policy = loads_frozen(line)
        policy_type(policy)
    except (ValueError, PolicyError) as exc:
        raise ValueError(f"line {n} is not a policy ({exc})") from None
    return policy


def _decode(lines: list[tuple[int, bytes]]) -> list[Any]:
    """The JSON values of ``lines``: one decode of them all as an array, or line by line to name a bad one.

    The single decode (read-only dicts, made in C) is the fast path; it is
    taken only when every line looks like one object and the values are as
    many as the lines, so a value never spans two lines.
    """
    if all(line[:1] == b"{" and line[-1:] == b"}" for _, line in lines):
        try:
            values = json.loads(b"[" + b",".join(line for _, line in lines) + b"]", object_hook=FrozenDict)
        except ValueError:
            pass
        else:
            if len(values) == len(lines):
                return values
    return [_one_policy(n, line) for n, line in lines]


def parse_ledger(data: bytes) -> tuple[Entry, ...]:
    """The policies of one ledger generation, with their lines; ``deleted`` tombstones remove earlier policies.

    Raises:
        ValueError: empty data, or a line that is not one policy (the generation is not complete).
    """
    if not data:
        raise ValueError("the file is empty")
    if deeper_than(data, MAX_DEPTH):
        raise ValueError(f"a policy nests deeper than {MAX_DEPTH} levels")
    lines = [(n, line) for n, line in enumerate((raw.strip() for raw in data.split(b"\n")), 1) if line]
    entries: list[Entry] = []
    for (n, line), policy in zip(lines, _decode(lines), strict=True):
        if len(policy) != 1 or not isinstance(next(iter(policy.values())), dict):
            _one_policy(n, line)  # raises, naming the line
        if b"[" in line:  # lists are frozen too (the single decode froze only the objects)
            policy = freeze(policy)
        if "deleted" in policy:  # EdgeLake's mark for a policy deleted on this node
            gone = policy_id_of(policy)
            entries = [e for e in entries if policy_id_of(e[1]) != gone]
            continue
        entries.append((line, policy))
    return tuple(entries)
