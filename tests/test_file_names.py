"""FileName: the one type that parses, renames and writes back a data file's name.

The operator parses a file's name once on its way in and hands it on (to the
rename for ``dbms_name``/``table_name``, the archive-name check and the
pipeline); nothing splits a name by hand beside it.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from anynode.errors import IngestError
from anynode.ingest.naming import FileName
from anynode.node import Node
from tests.helpers import count_rows, drop, errors, wait_until, watch


def test_retarget_renames_the_database_and_table_and_keeps_the_other_sections() -> None:
    name = FileName.parse("/watch/Demo.Sensor.dev7.abc.0.json.gz")
    moved = name.retarget("Other", None)
    assert str(moved) == "other.sensor.dev7.abc.0.json.gz" and moved.table_key == "other.sensor"
    assert str(name.retarget(None, "merged")) == "demo.merged.dev7.abc.0.json.gz"
    assert name.retarget(None, None) is name
    with pytest.raises(IngestError) as err:
        name.retarget("9lives", None)
    assert err.value.anylog_code == 119 and "dbms '9lives' is not a name" in err.value.message


def test_the_member_of_an_ingested_name_is_replaced_by_with_member() -> None:
    name = FileName.parse("demo.s.0.h.0.@.5.260101120000.json")
    assert str(name.with_member("0")) == "demo.s.0.h.0.0.5.260101120000.json"


def test_the_operator_parses_each_file_name_once(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: Counter[str] = Counter()
    real = FileName.parse.__func__  # type: ignore[attr-defined]

    def counting(cls: type[FileName], name: str | os.PathLike[str]) -> FileName:
        parsed[Path(name).name] += 1
        return real(cls, name)  # type: ignore[no-any-return]

    monkeypatch.setattr(FileName, "parse", classmethod(counting))
    node.execute("connect dbms other where type = sqlite")
    node.execute("run operator where dbms_name = other and table_name = merged and rescan = 0.3 seconds")
    try:
        drop(watch(node), "demo.a.src1.json", b'[{"v": 1}, {"v": 2}]')
        drop(watch(node), "demo.b.json", b'{"v": 3}')
        drop(watch(node), "demo.c.0.0.0.@.1.260101120000.json", b'{"v": 4}')  # rows inserted already
        drop(watch(node), "demo.json", b'{"v": 5}')  # no table section: refused, 119
        wait_until(lambda: count_rows(node, "other", "merged") == 3 and any(".err_119." in e for e in errors(node))
                   and not [p for p in watch(node).rglob("*") if p.is_file()])
    finally:
        node.services.stop("Operator")
    assert parsed == {"demo.a.src1.json": 1, "demo.b.json": 1, "demo.c.0.0.0.@.1.260101120000.json": 1,
                      "demo.json": 1}
    archived = sorted(p.name for p in Path(node.get_var("archive_dir") or "").rglob("*.json.gz"))
    assert [n.split(".")[:3] for n in archived] == [["demo", "c", "0"], ["other", "merged", "0"],
                                                    ["other", "merged", "src1"]]

