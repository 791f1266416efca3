"""AnyLog's data file names: dbms.table[.source.hash.instructions[.member.file_id.date]].json[.gz]."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from anynode.errors import IngestError
from anynode.ingest.naming import FileName


def test_two_sections_take_the_defaults() -> None:
    fn = FileName.parse("/watch/Demo.Sensor.json")
    assert fn == FileName("demo", "sensor")
    assert (fn.source, fn.hash, fn.instructions, fn.has_tsd) == ("0", "0", "0", False)


def test_five_sections_and_gzip() -> None:
    fn = FileName.parse("demo.sensor.dev7.abc123.0.json.gz")
    assert (fn.dbms, fn.table, fn.source, fn.hash, fn.instructions) == ("demo", "sensor", "dev7", "abc123", "0")
    assert fn.compressed


def test_eight_section_name_after_ingest() -> None:
    fn = FileName.parse("demo.sensor.0.0a07ef.0.193.1.261122060737.json")
    assert (fn.member, fn.file_id, fn.date) == ("193", 1, "261122060737")
    assert str(fn) == "demo.sensor.0.0a07ef.0.193.1.261122060737.json"


def test_streamed_marker_member() -> None:
    assert FileName.parse("demo.sensor.0.h.0.@.5.261122060737.json").member == "@"


def test_with_tsd_gives_the_archive_name() -> None:
    fn = FileName.parse("demo.sensor.json").with_hash("h1")
    when = datetime(2026, 11, 22, 6, 7, 37, tzinfo=timezone.utc)
    assert str(fn.with_tsd("0", 12, when)) == "demo.sensor.0.h1.0.0.12.261122060737.json"
    assert str(FileName.parse("demo.sensor.json")) == "demo.sensor.json"


@pytest.mark.parametrize("name, fragment", [
    ("onlyonesection.json", "missing dbms.table section"),
    ("demo..json", "empty section"),
    (".demo.sensor.json", "empty section"),
    ("demo.sensor.csv", "ends with .json"),
    ("demo.sensor", "ends with .json"),
    ("a.b.c.d.e.f.json", "6 sections"),
    ("a.b.c.d.e.f.g.h.i.json", "9 sections"),
    ("demo.sensor.0.h.0.x1.5.261122060737.json", "member 'x1' must be a number"),
    ("demo.sensor.0.h.0.1.0.261122060737.json", "file id '0' must be a number above 0"),
    ("demo.sensor.0.h.0.1.5.2611.json", "date '2611' must be YYMMDDHHMMSS"),
    ("de-mo.sensor.json", "dbms 'de-mo' is not a name"),
    ("demo.1sensor.json", "table '1sensor' is not a name"),
])
def test_wrong_names_are_error_119_with_the_expected_shape(name: str, fragment: str) -> None:
    with pytest.raises(IngestError) as e:
        FileName.parse(name)
    assert e.value.anylog_code == 119
    assert fragment in e.value.message
    assert "dbms.table" in (e.value.hint or "")
