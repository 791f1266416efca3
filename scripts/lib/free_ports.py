"""Print the TCP and REST ports a new node can listen on: the given ones when free, else the next free pair.

Used by scripts/start so that a second node (``scripts/start --home other``)
starts on free ports instead of failing with "Address already in use".
Usage: free_ports.py HOST TCP_PORT REST_PORT  ->  prints "TCP REST".
Stdlib only: it runs before anynode is importable.
"""

from __future__ import annotations

import socket
import sys

STEP = 10
TRIES = 50


def is_free(host: str, port: int) -> bool:
    """Whether a listener could bind ``host:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the node's servers bind
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick(host: str, tcp: int, rest: int) -> tuple[int, int]:
    """The first pair (tcp + k*STEP, rest + k*STEP) with both ports free; the given pair when none is."""
    for k in range(TRIES):
        pair = (tcp + k * STEP, rest + k * STEP)
        if all(p < 65536 and is_free(host, p) for p in pair):
            return pair
    return tcp, rest


def main(argv: list[str]) -> int:
    """Print the chosen pair; 2 on bad arguments."""
    if len(argv) != 3 or not (argv[1].isdigit() and argv[2].isdigit()):
        print("usage: free_ports.py HOST TCP_PORT REST_PORT", file=sys.stderr)
        return 2
    host = "0.0.0.0" if argv[0] in ("", "0.0.0.0") else argv[0]
    tcp, rest = pick(host, int(argv[1]), int(argv[2]))
    print(tcp, rest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
