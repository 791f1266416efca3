"""Reading data files of every shape, whole or streamed, and refusing bad ones with a position."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from anynode.errors import IngestError
from anynode.ingest.reader import body_hash, file_hash, read_batches
from anynode.ingest.rows import DEFAULT_LIMITS, ReadLimits
from tests.data_helpers import write_bytes, write_rows

ROWS = [{"id": i, "name": f"n{i}", "v": i / 2} for i in range(1, 8)]
STREAM = ReadLimits(batch_rows=3, whole_file_bytes=16, chunk_bytes=7)  # force the streaming paths


def rows_of(source: Path | bytes, limits: ReadLimits = DEFAULT_LIMITS) -> list[dict]:
    return [r for batch in read_batches(source, limits) for r in batch]


@pytest.mark.parametrize("limits", [ReadLimits(), STREAM], ids=["whole", "streamed"])
@pytest.mark.parametrize("shape", ["array", "lines", "pretty"])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_every_shape_gives_the_same_rows(tmp_path: Path, shape: str, gz: bool, limits: ReadLimits) -> None:
    path = write_rows(tmp_path, "demo.t.json" + (".gz" if gz else ""), ROWS, shape)
    assert rows_of(path, limits) == ROWS


@pytest.mark.parametrize("limits", [ReadLimits(), STREAM], ids=["whole", "streamed"])
def test_single_object_file(tmp_path: Path, limits: ReadLimits) -> None:
    path = write_rows(tmp_path, "demo.t.json", ROWS[:1], "object")
    assert rows_of(path, limits) == ROWS[:1]


def test_streamed_batches_are_bounded(tmp_path: Path) -> None:
    path = write_rows(tmp_path, "demo.t.json", ROWS * 10, "lines")
    sizes = [len(b) for b in read_batches(path, ReadLimits(batch_rows=5, whole_file_bytes=100, chunk_bytes=64))]
    assert sum(sizes) == 70 and max(sizes) <= 10


def test_bom_crlf_and_blank_lines_are_accepted(tmp_path: Path) -> None:
    text = "\ufeff" + "\r\n".join(json.dumps(r) for r in ROWS[:3]) + "\r\n\r\n"
    path = write_bytes(tmp_path, "demo.t.json", text.encode())
    assert rows_of(path) == ROWS[:3]
    assert rows_of(path, STREAM) == ROWS[:3]


def test_gzip_content_is_detected_whatever_the_name(tmp_path: Path) -> None:
    path = tmp_path / "demo.t.json"
    path.write_bytes(gzip.compress(json.dumps(ROWS).encode()))
    assert rows_of(path) == ROWS


def test_hash_is_md5_of_dbms_table_and_content(tmp_path: Path) -> None:
    import hashlib
    data = json.dumps(ROWS).encode()
    plain = write_bytes(tmp_path, "demo.t.json", data)
    packed = write_bytes(tmp_path, "demo.t.json.gz", data)
    expected = hashlib.md5(b"demo.t" + data).hexdigest()
    assert file_hash(plain, "demo", "t") == expected == file_hash(packed, "demo", "t") == body_hash(data, "demo", "t")
    assert file_hash(plain, "demo", "other") != expected


BAD = [
    # (id, content, fragment of the message)
    ("empty", b"", "empty"),
    ("whitespace-only", b"  \n\t\n", "empty"),
    ("not-json", b"hello world", "Not JSON: the file starts with 'hello world'"),
    ("csv", b"a,b,c\n1,2,3\n", "Not JSON"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data (NUL byte at offset 8)"),
    ("truncated-array", b'[{"a": 1}, {"a": 2', "ends early"),
    ("truncated-object", b'{"a": 1, "b": "tex', "ends early"),
    ("unclosed-array", b'[{"a": 1},', "ends early"),
    ("scalar-number", b"42", "holds a number, not JSON objects"),
    ("scalar-string", b'"text"', "holds a string"),
    ("array-of-numbers", b"[1, 2, 3]", "Row 1 is a number, not a JSON object"),
    ("mixed-array", b'[{"a": 1}, "x"]', "Row 2 is a string, not a JSON object"),
    ("nested-array-row", b'[{"a": 1}, [1, 2]]', "is an array, not a JSON object"),
    ("empty-array", b"[]", "array is empty"),
    ("invalid-utf8", b'[{"a": "caf\xe9"}]', "Invalid UTF-8"),
    ("nan", b'[{"a": NaN}]', "Invalid JSON"),
    ("missing-comma", b'[{"a": 1} {"a": 2}]', "Invalid JSON at line 1"),
    ("trailing-garbage", b'[{"a": 1}] xyz', "Invalid JSON"),
    ("single-quotes", b"[{'a': 1}]", "Invalid JSON"),
    ("deep-nesting", b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    ("lines-bad-second", b'{"a": 1}\n{"a": \n{"a": 3}\n', "line 2"),
    ("lines-scalar", b'{"a": 1}\n7\n', "Row on line 2 is a number"),
    ("lines-truncated-last", b'{"a": 1}\n{"a": 2', "line 2"),
]


@pytest.mark.parametrize("limits", [ReadLimits(), ReadLimits(whole_file_bytes=4, chunk_bytes=3)],
                         ids=["whole", "streamed"])
@pytest.mark.parametrize("content, fragment", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_content_is_error_67_with_a_clear_message(tmp_path: Path, content: bytes, fragment: str,
                                                      limits: ReadLimits) -> None:
    path = write_bytes(tmp_path, "demo.t.json", content)
    with pytest.raises(IngestError) as e:
        rows_of(path, limits)
    assert e.value.anylog_code == 67
    assert fragment in e.value.message
    assert "\n" not in e.value.one_line()


def test_line_number_of_a_bad_line_in_a_big_streamed_file(tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in ROWS * 100]
    lines[456] = '{"id": 1, "name": oops}'
    path = write_bytes(tmp_path, "demo.t.json", "\n".join(lines).encode())
    with pytest.raises(IngestError, match="line 457"):
        rows_of(path, ReadLimits(whole_file_bytes=1000, chunk_bytes=500))


def test_huge_line_is_refused_before_it_is_held_in_memory(tmp_path: Path) -> None:
    data = b'{"a": 1}\n{"a": "' + b"x" * 5000 + b'"}\n'
    path = write_bytes(tmp_path, "demo.t.json", data)
    with pytest.raises(IngestError, match="Line 2 is longer than 1000 bytes") as e:
        rows_of(path, ReadLimits(max_record_bytes=1000, whole_file_bytes=100, chunk_bytes=256))
    assert e.value.anylog_code == 67


def test_huge_array_element_is_refused(tmp_path: Path) -> None:
    data = b'[{"a": 1}, {"a": "' + b"x" * 5000 + b'"}]'
    path = write_bytes(tmp_path, "demo.t.json", data)
    with pytest.raises(IngestError, match="longer than 1000 bytes"):
        rows_of(path, ReadLimits(max_record_bytes=1000, whole_file_bytes=100, chunk_bytes=256))


def test_truncated_gzip_is_refused(tmp_path: Path) -> None:
    packed = gzip.compress(json.dumps(ROWS * 50).encode())
    path = tmp_path / "demo.t.json.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(IngestError, match="compressed file is damaged or truncated") as e:
        rows_of(path)
    assert e.value.anylog_code == 67


def test_gz_name_without_gzip_content_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "demo.t.json.gz"
    path.write_bytes(json.dumps(ROWS).encode())
    with pytest.raises(IngestError, match="named .gz but is not gzip-compressed"):
        rows_of(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="Cannot read demo.t.json"):
        rows_of(tmp_path / "demo.t.json")
