"""`anynode < file` on a home held by a running node runs the file there as one script (issue 10, defect 3):
labels, `goto` and `on error` work as they do when the pipe runs on a node of its own; what the lines print
streams back as they run; Ctrl-C cancels the script and the node stays up.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from anynode.console.client import connect
from tests.console_helpers import ANYNODE, cli, env, held_home

HANDLED = """\
# jumps forward, an error handled by its label: what a README script does
goto start
echo skipped
:start:
on error goto failed
echo before
get proceses
echo not reached
:failed:
echo handled
"""

UNHANDLED = """\
echo one
get proceses
<msg = hello
 world>
echo !msg
"""


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The home of a node started with `anynode process`, named held1."""
    with held_home(tmp_path_factory.mktemp("pipe")) as (home, _proc):
        yield home


def test_labels_goto_and_on_error_work_in_a_pipe_attached_to_a_running_node(held: Path, tmp_path: Path) -> None:
    attached = cli(held, stdin=HANDLED)
    assert attached.returncode == 0, attached.stderr
    assert attached.stdout.split() == ["before", "handled"]
    alone = cli(tmp_path / "own", stdin=HANDLED)  # the same pipe on a node of its own
    assert (alone.returncode, alone.stdout) == (attached.returncode, attached.stdout)


def test_a_failing_line_is_reported_the_rest_runs_and_the_status_is_the_first_failures(held: Path,
                                                                                       tmp_path: Path) -> None:
    attached = cli(held, stdin=UNHANDLED)
    alone = cli(tmp_path / "own", stdin=UNHANDLED)
    assert attached.stdout.split() == ["one", "hello", "world"]  # a <...> block spans lines, as in a script
    assert "<stdin>:2: unknown command 'get proceses'" in attached.stderr  # the error names its line
    assert attached.stderr.count("error") == 1
    assert attached.returncode == alone.returncode != 0
    assert alone.stdout == attached.stdout


def _pipe(home: Path, text: str) -> subprocess.Popen[str]:
    """``anynode < file`` on ``home`` (the whole text given, stdin closed), its output readable as it comes."""
    proc = subprocess.Popen([*ANYNODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env(home))
    assert proc.stdin is not None
    proc.stdin.write(text)
    proc.stdin.close()
    proc.stdin = None  # written and closed: communicate() must not flush it
    return proc


def test_ctrl_c_cancels_the_attached_script_and_the_node_stays_up(held: Path) -> None:
    proc = _pipe(held, "echo started\nwait 30\necho after\n")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "started\n"  # streamed back while the script goes on waiting
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=5)
        took = time.monotonic() - sent
        out, err = proc.communicate()
    finally:
        proc.kill()
    assert code == 130 and took < 2.0, (code, took, err)
    assert "after" not in out
    assert "cancelled" in err and "error" not in err.replace("cancelled", "")
    assert cli(held, "-e", "get status").returncode == 0
    attached = connect(held)
    try:
        assert attached.name == "held1"
    finally:
        attached.close()
