"""Settings: precedence, sources, validation messages, reload."""

from __future__ import annotations

from pathlib import Path

import pytest

from anynode.errors import ConfigError
from anynode.settings import SETTINGS, Settings
from anynode.values import ByteSize, Duration


def write_cfg(home: Path, text: str) -> Path:
    path = home / "anynode.cfg"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_home_or_env() -> None:
    s = Settings.load(None, env={})
    assert s.stats_interval == 30.0 and isinstance(s.stats_interval, Duration)
    assert s["log_level"] == "INFO"
    assert s.source("stats_interval") == "default"
    assert set(s) == {x.name for x in SETTINGS}


def test_precedence_default_file_env_override(tmp_path: Path) -> None:
    cfg = write_cfg(tmp_path, "# node config\n\nnode_name = edge-7\nstats_interval = 2 minutes\n"
                              "log_level = debug\nlog_max_bytes = 5MB\n")
    env = {"ANYNODE_STATS_INTERVAL": "45", "ANYNODE_HOME": str(tmp_path), "PATH": "/bin"}
    s = Settings.load(tmp_path, env=env, overrides={"log_level": "error"})
    assert s.node_name == "edge-7" and s.source("node_name") == f"{cfg}:3"
    assert s.stats_interval == 45.0 and s.source("stats_interval") == "env ANYNODE_STATS_INTERVAL"
    assert s.log_level == "ERROR" and s.source("log_level") == "override"
    assert s.log_max_bytes == 5 * 1024 * 1024 and isinstance(s.log_max_bytes, ByteSize)
    assert s.log_backups == 5 and s.source("log_backups") == "default"
    assert ("node_name", "edge-7", f"{cfg}:3") in s.describe()


def test_file_values_may_be_quoted_and_keys_use_any_case_or_dashes(tmp_path: Path) -> None:
    write_cfg(tmp_path, "Node-Name = \"my node\"\nSTATS_INTERVAL='1h'\n")
    s = Settings.load(tmp_path, env={})
    assert s.node_name == "my node" and s.stats_interval == 3600.0


def test_unknown_key_in_file_names_file_line_and_suggests(tmp_path: Path) -> None:
    cfg = write_cfg(tmp_path, "node_name = a\nstat_interval = 10\n")
    with pytest.raises(ConfigError) as info:
        Settings.load(tmp_path, env={})
    assert info.value.message == f"{cfg}:2: unknown setting 'stat_interval'"
    assert info.value.hint is not None
    assert info.value.hint.startswith("did you mean 'stats_interval'? valid settings: node_name, log_level")


def test_bad_type_in_file_says_what_was_expected(tmp_path: Path) -> None:
    cfg = write_cfg(tmp_path, "stats_interval = soon\n")
    with pytest.raises(ConfigError) as info:
        Settings.load(tmp_path, env={})
    assert info.value.message == (f"{cfg}:1: stats_interval = 'soon' is not a duration like 30, "
                                  "'30 seconds' or '5 minutes'")


def test_choices_and_minimum_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="log_level = 'LOUD' is not one of DEBUG, INFO, WARNING, ERROR"):
        Settings.load(None, env={"ANYNODE_LOG_LEVEL": "LOUD"})
    with pytest.raises(ConfigError, match="stats_interval = '0' is not .* at least 1"):
        Settings.load(None, env={}, overrides={"stats_interval": 0})


def test_line_without_equals_is_an_error(tmp_path: Path) -> None:
    cfg = write_cfg(tmp_path, "[anynode]\n")
    with pytest.raises(ConfigError, match=f"{cfg}:1: expected 'key = value', got '\\[anynode\\]'"):
        Settings.load(tmp_path, env={})


def test_unknown_env_variable_is_an_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.load(None, env={"ANYNODE_LOG_LEVL": "DEBUG"})
    assert info.value.message == "environment variable ANYNODE_LOG_LEVL: unknown setting 'log_levl'"
    assert "did you mean 'log_level'?" in (info.value.hint or "")


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(ConfigError,
                       match="environment variable ANYNODE_LOG_BACKUPS: log_backups = 'many' is not an integer"):
        Settings.load(None, env={"ANYNODE_LOG_BACKUPS": "many"})


def test_unknown_override_is_an_error() -> None:
    with pytest.raises(ConfigError, match="override: unknown setting 'colour'"):
        Settings.load(None, env={}, overrides={"colour": "red"})


def test_reload_reads_the_file_again_and_reports_changes(tmp_path: Path) -> None:
    write_cfg(tmp_path, "log_level = INFO\n")
    old = Settings.load(tmp_path, env={})
    write_cfg(tmp_path, "log_level = DEBUG\nstats_interval = 10\n")
    new = old.reload()
    assert new.log_level == "DEBUG" and new.stats_interval == 10
    assert new.changed(old) == ["log_level", "stats_interval"]
    assert old.log_level == "INFO"  # the old object is untouched


def test_reload_that_does_not_validate_raises_and_the_old_ones_stay(tmp_path: Path) -> None:
    write_cfg(tmp_path, "log_level = WARNING\n")
    old = Settings.load(tmp_path, env={})
    write_cfg(tmp_path, "log_level = WARNING\nlog_lvl = DEBUG\n")
    with pytest.raises(ConfigError, match="unknown setting 'log_lvl'"):
        old.reload()
    assert old.log_level == "WARNING"


def test_unknown_attribute_is_an_attribute_error_with_suggestion() -> None:
    s = Settings.load(None, env={})
    with pytest.raises(AttributeError, match="did you mean 'node_name'"):
        s.node_nam  # noqa: B018
