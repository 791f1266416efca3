"""Bad data files and what each must be refused with: test data for the ingest and operator tests."""

from __future__ import annotations

import gzip
import json


def _gz_truncated() -> bytes:
    packed = gzip.compress(json.dumps([{"v": i} for i in range(500)]).encode())
    return packed[: len(packed) // 2]


# (id, file name ({d} = dbms), content, expected code, fragment of the message)
CASES = [
    ("one-section-name", "onlyonesection.json", b'[{"v": 1}]', 119, "missing dbms.table section"),
    ("empty-section", "{d}..json", b'[{"v": 1}]', 119, "empty section"),
    ("not-a-json-name", "{d}.sensor.txt", b'[{"v": 1}]', 119, "ends with .json"),
    ("six-sections", "{d}.sensor.a.b.c.d.json", b'[{"v": 1}]', 119, "6 sections"),
    ("bad-table-name", "{d}.sen-sor.json", b'[{"v": 1}]', 119, "is not a name"),
    ("reserved-table", "{d}.tsd_info.json", b'[{"v": 1}]', 119, "reserved for file records"),
    ("dbms-not-connected", "other.sensor.json", b'[{"v": 1}]', 10, "Logical DBMS 'other' not connected"),
    ("system-dbms", "almgm.sensor.json", b'[{"v": 1}]', 10, "node's own records"),
    ("empty-file", "{d}.sensor.json", b"", 67, "The file is empty"),
    ("whitespace-file", "{d}.sensor.json", b"\n \n", 67, "The file is empty"),
    ("not-json", "{d}.sensor.json", b"temperature=21", 67, "Not JSON"),
    ("binary", "{d}.sensor.json", bytes(range(256)), 67, "binary data"),
    ("truncated-array", "{d}.sensor.json", b'[{"v": 1}, {"v": 2', 67, "ends early"),
    ("truncated-object", "{d}.sensor.json", b'{"v": "abc', 67, "ends early"),
    ("scalar", "{d}.sensor.json", b"3.14", 67, "holds a number"),
    ("array-of-numbers", "{d}.sensor.json", b"[1, 2]", 67, "not a JSON object"),
    ("empty-array", "{d}.sensor.json", b"[]", 67, "array is empty"),
    ("empty-object-row", "{d}.sensor.json", b'[{"v": 1}, {}]', 67, "empty object"),
    ("invalid-utf8", "{d}.sensor.json", b'[{"v": "\xc3\x28"}]', 67, "Invalid UTF-8"),
    ("nan-literal", "{d}.sensor.json", b'[{"v": NaN}]', 67, "Invalid JSON"),
    ("deep-nesting-parser", "{d}.sensor.json", b'[{"v": ' + b"[" * 3000 + b"]" * 3000 + b"}]", 67,
     "nested too deeply"),
    ("deep-nesting-objects", "{d}.sensor.json",
     json.dumps([{"v": json.loads('{"a": ' * 40 + "1" + "}" * 40)}]).encode(), 67, "nested deeper than 32 levels"),
    ("deep-nesting-arrays", "{d}.sensor.json", json.dumps([{"v": json.loads("[" * 40 + "]" * 40)}]).encode(),
     67, "array nested deeper than 32"),
    ("huge-line", "{d}.sensor.json", b'{"v": 1}\n{"v": "' + b"x" * 5000 + b'"}\n', 67, "longer than 2000 bytes"),
    ("bad-line-in-lines", "{d}.sensor.json", b'{"v": 1}\n{v: 2}\n{"v": 3}\n', 67, "line 2"),
    ("truncated-gzip", "{d}.sensor.json.gz", _gz_truncated(), 67, "damaged or truncated"),
    ("gz-name-plain-content", "{d}.sensor.json.gz", b'[{"v": 1}]', 67, "not gzip-compressed"),
    ("keys-collide-by-case", "{d}.sensor.json", b'[{"Temp": 1}, {"temp": 2}]', 27, "both map to column 'temp'"),
    ("nested-and-flat-collide", "{d}.sensor.json", b'[{"a": {"b": 1}, "a_b": 2}]', 27, "both nested and flat"),
    ("system-column-key", "{d}.sensor.json", b'[{"row_id": 5}]', 27, "system column"),
    ("empty-key", "{d}.sensor.json", b'[{"": 5}]', 27, "empty key"),
    ("too-long-key", "{d}.sensor.json", json.dumps([{"k" * 80: 1}]).encode(), 27, "longer than 63"),
]
