#!/usr/bin/env python3
"""Drive a node over REST with the standard library only.

    python examples/rest_client.py http://127.0.0.1:32549

Needs a node with `run rest server`, a connected `demo` database and
`run operator` (commands/standalone.al starts all three).
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request


def call(base: str, method: str, headers: dict[str, str], body: bytes | None = None) -> bytes:
    request = urllib.request.Request(base + "/", data=body, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.read()


def main() -> int:
    base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:32549"
    print(call(base, "GET", {"command": "get status"}).decode())
    rows = [{"sensor": "t1", "value": 20.5}, {"sensor": "t2", "value": 22.0}]
    put = call(base, "PUT", {"type": "json", "dbms": "demo", "table": "rest_readings", "mode": "file"},
               json.dumps(rows).encode())
    print(json.loads(put))
    query = {"command": 'sql demo format = json "select sensor, value from rest_readings order by sensor"'}
    deadline = time.monotonic() + 20
    while True:  # the rows travel through the watch directory and the operator
        try:
            answer = json.loads(call(base, "GET", query))
            if len(answer["Query"]) == len(rows):
                break
        except urllib.error.HTTPError:  # the table does not exist yet
            pass
        if time.monotonic() > deadline:
            print("the rows did not arrive", file=sys.stderr)
            return 1
        time.sleep(0.2)
    print(answer["Query"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
