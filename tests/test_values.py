"""One vocabulary: a duration, size or boolean means the same in a command and in a setting.

Each spelling that either place accepted before is written here in both: in a
command's ``where`` clause (``set buffer threshold``, whose reply shows the
value it took) and in ``anynode.cfg`` / ``ANYNODE_*``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from anynode.errors import ConfigError, ValidationError
from anynode.node import Node
from anynode.settings import Setting, Settings

DURATIONS = [
    ("45", 45.0), ("30s", 30.0), ("30 seconds", 30.0), ("10 secs", 10.0), ("5 minutes", 300.0), ("5m", 300.0),
    ("2h", 7200.0), ("1.5 hours", 5400.0), ("1 day", 86400.0), ("2 weeks", 1209600.0), ("1 month", 2592000.0),
    ("1 year", 31536000.0), ("3 MINUTES", 180.0),
]
SIZES = [
    ("10000", 10000), ("512k", 512 * 1024), ("512KB", 512 * 1024), ("64kb", 64 * 1024), ("2 MB", 2 * 1024**2),
    ("10m", 10 * 1024**2), ("1.5MB", 3 * 512 * 1024), ("1g", 1024**3), ("1GB", 1024**3), ("1TB", 1024**4),
    ("300B", 300),
]
BOOLEANS = [("true", True), ("on", True), ("yes", True), ("1", True), ("TRUE", True),
            ("false", False), ("off", False), ("no", False), ("0", False)]


def _setting(home: Path, line: str) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    (home / "anynode.cfg").write_text(line + "\n", encoding="utf-8")
    return Settings.load(home, env={})


@pytest.mark.parametrize("text,seconds", DURATIONS)
def test_a_duration_is_read_alike_in_a_command_and_in_a_setting(node: Node, tmp_path: Path, text: str,
                                                                  seconds: float) -> None:
    reply = node.execute(f"set buffer threshold where time = {text}").to_text()
    assert reply.startswith(f"buffer threshold (default): {seconds:g} seconds,"), reply
    assert _setting(tmp_path / "cfg", f"stats_interval = {text}").stats_interval == seconds
    env = Settings.load(None, env={"ANYNODE_REMOTE_TIMEOUT": text})
    assert env.remote_timeout == seconds


@pytest.mark.parametrize("text,size", SIZES)
def test_a_size_is_read_alike_in_a_command_and_in_a_setting(node: Node, tmp_path: Path, text: str,
                                                             size: int) -> None:
    reply = node.execute(f"set buffer threshold where volume = {text}").to_text()
    assert reply.endswith(f" seconds, {size:,} bytes"), reply
    assert _setting(tmp_path / "cfg", f"max_result_size = {text}").max_result_size == size
    env = Settings.load(None, env={"ANYNODE_MAX_RESULT_SIZE": text})
    assert env.max_result_size == size


@pytest.mark.parametrize("text,value", BOOLEANS)
def test_a_boolean_is_read_alike_in_a_command_and_in_a_setting(node: Node, text: str, value: bool) -> None:
    reply = node.execute(f"set buffer threshold where write_immediate = {text}").to_text()
    assert reply.endswith(", write immediate") is value, reply
    assert Setting("flag", False, bool, "a boolean setting").convert(text) is value


def test_a_bad_duration_or_size_is_refused_in_both_places_saying_what_is_accepted(node: Node,
                                                                                   tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as cmd:
        node.execute("set buffer threshold where time = 2 fortnights")
    assert "'2 fortnights' is not a duration" in cmd.value.message and "30 seconds" in str(cmd.value.hint)
    with pytest.raises(ConfigError) as cfg:
        _setting(tmp_path / "a", "stats_interval = 2 fortnights")
    assert "stats_interval = '2 fortnights' is not a duration like 30" in cfg.value.message
    with pytest.raises(ValidationError) as cmd:
        node.execute("set buffer threshold where volume = 3 parsecs")
    assert "'3 parsecs' is not a size" in cmd.value.message and "64KB" in str(cmd.value.hint)
    with pytest.raises(ConfigError) as cfg:
        _setting(tmp_path / "b", "max_result_size = 3 parsecs")
    assert "max_result_size = '3 parsecs' is not a size like" in cfg.value.message
