"""Big results at the prompt: a row cap with the count of what was cut, a pager for tall output, none in pipes."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from anynode.repl.paging import cap_rows, present, show
from anynode.results import Batch, Message, Table
from tests.console_helpers import cli, spawn

pexpect = pytest.importorskip("pexpect")

ROWS_SQL = 'sql demo "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < {n}) SELECT x FROM c"'


def test_cap_rows_cuts_tables_and_counts_the_rest() -> None:
    table = Table.of(["x"], [[i] for i in range(2500)])
    capped, cut = cap_rows(table, 1000)
    assert len(capped.rows) == 1000 and cut == 1500
    assert cap_rows(table, 0) == (table, 0)
    batch, cut = cap_rows(Batch((Message("hi"), table, table)), 2000)
    assert cut == 1000 and [len(r.rows) for r in batch.results[1:]] == [2000, 2000]


def test_a_capped_table_says_how_many_rows_were_not_drawn_and_draws_fast() -> None:
    table = Table.of(["x", "y"], [[i, "v" * 20] for i in range(20000)])
    start = time.monotonic()
    text = present(table, "table", color=True, width=100, max_rows=1000)
    took = time.monotonic() - start
    assert "19,000 more rows not shown (prompt_max_rows = 1000)" in text
    assert "│ 999 " in text and "│ 1000 " not in text
    assert took < 3.0, f"drawing 1,000 of 20,000 rows took {took:.1f} s"
    assert "more rows" not in present(table, "json", color=False, width=None, max_rows=1000)  # JSON is whole


def test_show_never_pages_what_is_not_a_terminal() -> None:
    out = io.StringIO()
    show("line\n" * 500, out, "false")  # a pager that would fail: never run for a buffer
    assert out.getvalue().count("line") == 500


def test_the_prompt_caps_rows_and_pages_tall_results_but_e_to_a_pipe_gets_every_row(tmp_path: Path) -> None:
    home = tmp_path / "home"
    child = spawn(home, "-e", "connect dbms demo where type = sqlite", "-i",
                  ANYNODE_PROMPT_MAX_ROWS="12", ANYNODE_PAGER="sed s/^/PAGED:/")
    try:
        child.expect_exact("AN anynode >")
        child.sendline(ROWS_SQL.format(n=5))  # short: drawn as it is
        child.expect_exact("│ 5 ")
        child.expect_exact("AN anynode >")
        assert "PAGED:" not in str(child.before)
        child.sendline(ROWS_SQL.format(n=40))  # 12 rows + frame + note fit 30 lines: capped, not paged
        child.expect_exact("28 more rows not shown (prompt_max_rows = 12)")
        child.expect_exact("AN anynode >")
        child.sendline(ROWS_SQL.format(n=40).replace("sql demo", "sql demo format = json"))  # JSON is not capped:
        # 40 rows are taller than the 30-line terminal, so through the pager
        child.expect_exact("PAGED:")
        child.expect_exact("AN anynode >")
        child.sendline("exit node")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    out = cli(home, "-e", "connect dbms demo where type = sqlite", "-e", ROWS_SQL.format(n=40),
              ANYNODE_PROMPT_MAX_ROWS="12", ANYNODE_PAGER="sed s/^/PAGED:/")
    assert out.returncode == 0, out.stderr
    assert "PAGED:" not in out.stdout and "more rows" not in out.stdout
    assert out.stdout.split()[-1] == "40"
