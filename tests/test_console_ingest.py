"""Ingest as a person at the prompt sees it: failed files announced above the prompt, the live count in the toolbar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.console_helpers import expect_answering_cpr, held_home, spawn

pexpect = pytest.importorskip("pexpect")


def test_a_failed_file_is_announced_above_the_prompt_and_the_toolbar_counts_rows(tmp_path: Path) -> None:
    home = tmp_path / "home"
    child = spawn(home, "-e", "create work directories", "-e", "connect dbms demo where type = sqlite",
                  "-e", "run operator", "-i", PROMPT_TOOLKIT_NO_CPR="0")
    try:
        expect_answering_cpr(child, "AN anynode >")
        expect_answering_cpr(child, "ingest: 0 rows")  # the toolbar: the operator runs, nothing came in yet
        watch = home / "data" / "watch"
        (watch / "demo.readings.broken.json").write_text("[{\"sensor\": ")
        expect_answering_cpr(child, "ingest failed: demo.readings.broken.json (code ")
        expect_answering_cpr(child, "AN anynode >")  # the prompt is drawn again below the note
        rows = [{"sensor": f"s{i}", "value": i} for i in range(3)]
        (watch / "demo.readings.good.json").write_text(json.dumps(rows))
        # The toolbar redraws every second, but only the characters that changed: an empty line draws it whole.
        for _ in range(40):
            child.send("\r")
            expect_answering_cpr(child, "AN anynode >")
            try:
                expect_answering_cpr(child, "ingest: 3 rows", timeout=0.5)
                break
            except pexpect.TIMEOUT:
                continue
        else:
            pytest.fail("the toolbar never said 'ingest: 3 rows'")
        expect_answering_cpr(child, "1 failed")
        child.sendline("exit node")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_an_attached_prompt_hears_of_failed_files_and_shows_the_nodes_ingest_count(tmp_path: Path) -> None:
    more = "create work directories\nconnect dbms demo where type = sqlite\nrun operator\n"
    with held_home(tmp_path, name="ingest1", more=more) as (home, _proc):
        child = spawn(home, PROMPT_TOOLKIT_NO_CPR="0")
        try:
            expect_answering_cpr(child, "AN ingest1 >")
            expect_answering_cpr(child, "ingest: 0 rows")  # the running node's operator, in this toolbar
            (home / "data" / "watch" / "demo.readings.broken.json").write_text("{\"sensor\": ")
            expect_answering_cpr(child, "ingest failed: demo.readings.broken.json (code ")
            child.sendcontrol("d")
            child.expect(pexpect.EOF)
        finally:
            child.close(force=True)
