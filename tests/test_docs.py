"""The generated command reference matches the declarations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_docs_commands_md_is_current() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_docs"), "--check"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr + " (run scripts/gen_docs and commit docs/commands.md)"


def test_docs_readme_opens_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    first_block = text.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split()[0] for line in first_block.strip().splitlines()] == ["scripts/start", "scripts/test"]
