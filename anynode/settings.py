"""Node settings, declared once and validated at start.

Every setting is one :class:`Setting` in :data:`SETTINGS` (name, default, type,
help). Values are loaded in this order, each layer overriding the previous:

1. the default in :data:`SETTINGS`;
2. ``<home>/anynode.cfg``: plain ``key = value`` lines (the same shape as an
   AnyLog assignment). ``#`` starts a comment line; blank lines are ignored;
   a value may be quoted with ``"`` or ``'``; there are no sections and no
   inline comments. Keys are case-insensitive and ``-`` equals ``_``;
3. environment variables ``ANYNODE_<KEY>`` (``ANYNODE_STATS_INTERVAL=10``);
   names in :data:`ENV_IGNORED` belong to the CLI and ``ANYNODE_TEST_*``,
   ``ANYNODE_SVC_*``, ``ANYNODE_PG_*`` to the tests and scripts, not to settings;
4. explicit overrides (command-line options).

Durations, sizes and booleans are written as in a command's ``where`` clause
(``30 seconds``, ``2 weeks``, ``512k``, ``1TB``, ``on``): both parse them with
:mod:`anynode.values`.

Every value remembers where it came from (``settings.source("log_level")``).
An unknown key or a value of the wrong type is a :class:`ConfigError` naming
the file and line (or the variable), the key, and what would be right — the
valid keys with a "did you mean", or the expected type. A misspelt key is never
silently ignored.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anynode import values
from anynode.errors import ConfigError, ValidationError
from anynode.secret import MASK as _MASK
from anynode.values import ByteSize, Duration

CONFIG_FILE = "anynode.cfg"
ENV_PREFIX = "ANYNODE_"
ENV_IGNORED: tuple[str, ...] = ("ANYNODE_HOME",)
# Variables of the project's own tooling (tests, scripts/services), never settings.
ENV_IGNORED_PREFIXES: tuple[str, ...] = ("ANYNODE_TEST_", "ANYNODE_SVC_", "ANYNODE_PG_")
"""``ANYNODE_*`` variables that are not settings (read by the CLI itself)."""


def _from_text(parse: Callable[[str], Any], kind: Callable[[Any], Any] = lambda v: v) -> Callable[[str], Any]:
    """A converter of text with a parser of :mod:`anynode.values`; ValueError where it refuses (as convert wants)."""

    def convert(text: str) -> Any:
        try:
            return kind(parse(text))
        except ValidationError:
            raise ValueError(text) from None

    return convert


_CONVERTERS: dict[type, tuple[Callable[[str], Any], str]] = {
    str: (str, "a string"),
    int: (_from_text(values.parse_int), "an integer"),
    float: (lambda t: float(t.strip()), "a number"),
    bool: (_from_text(values.parse_bool), "true or false"),
    Duration: (_from_text(values.parse_duration, Duration), "a duration like 30, '30 seconds' or '5 minutes'"),
    ByteSize: (_from_text(values.parse_size, ByteSize), "a size like 1048576, '512KB' or '10MB'"),
}


@dataclass(frozen=True)
class Setting:
    """One setting: its name, default, type and a one-line help.

    ``choices`` limits the values (compared case-insensitively, stored as
    declared); ``reloadable`` says whether a SIGHUP reload may change it on a
    running node (the others need a restart); a ``secret`` value is never
    shown (``get settings`` says whether it is set).
    """

    name: str
    default: Any
    type: type
    help: str
    choices: tuple[str, ...] | None = None
    reloadable: bool = True
    minimum: float | None = None
    secret: bool = False

    def convert(self, raw: Any) -> Any:
        """``raw`` (text, or an already typed override) as this setting's type.

        Raises ValueError with the expected type in words when it does not fit.
        """
        converter, expected = _CONVERTERS[self.type]
        if self.choices:
            expected = "one of " + ", ".join(self.choices)
        if isinstance(raw, self.type) and not (self.type is int and isinstance(raw, bool)):
            value = raw
        elif (isinstance(raw, (int, float)) and not isinstance(raw, bool)
              and self.type in (int, float, Duration, ByteSize)):
            value = self.type(raw)
        else:
            try:
                value = converter(str(raw))
            except ValueError:
                raise ValueError(expected) from None
        if self.choices:
            matches = [c for c in self.choices if c.lower() == str(value).lower()]
            if not matches:
                raise ValueError(expected)
            value = matches[0]
        if self.minimum is not None and isinstance(value, (int, float)) and value < self.minimum:
            raise ValueError(f"{expected}, at least {self.minimum:g}")
        return value


SETTINGS: tuple[Setting, ...] = (
    Setting("node_name", "anynode", str, "The node's name, as 'get status' shows it.", reloadable=False),
    Setting("log_level", "INFO", str, "Lowest level written to logs/root.log and the event log.",
            choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    Setting("log_max_bytes", ByteSize(10 * 1024**2), ByteSize, "root.log and stats.log rotate at this size.",
            reloadable=False, minimum=1024),
    Setting("log_backups", 5, int, "Rotated log files kept.", reloadable=False, minimum=0),
    Setting("stats_interval", Duration(30), Duration, "How often each service's counters go to logs/stats.log.",
            minimum=1),
    Setting("error_log_size", 100, int, "Entries kept for 'get error log'.", reloadable=False, minimum=1),
    Setting("event_log_size", 100, int, "Entries kept for 'get event log'.", reloadable=False, minimum=1),
    Setting("start_timeout", Duration(10), Duration, "How long 'run <service>' waits for the service to be ready.",
            minimum=0.1),
    Setting("shutdown_timeout", Duration(10), Duration, "Deadline for stopping every service at exit.", minimum=0.1),
    Setting("network_key", "", str, "Shared key of the network: when set, every node-to-node frame is signed "
            "(HMAC-SHA256) and frames without it are refused. Empty: off.", secret=True),
    Setting("tls_ca_file", "", str, "When set, 'run client' talks TLS to peers and trusts this CA (PEM file)."),
    Setting("remote_timeout", Duration(20), Duration, "How long 'run client' waits for peers' replies.", minimum=0.1),
    Setting("max_result_size", ByteSize(64 * 1024**2), ByteSize, "Most that the rows of one 'sql' query may weigh "
            "(their size as JSON); a larger result is an error. 0: no cap.",
            minimum=0),
    # The schedulers (anynode/scheduler/): read when a scheduler starts ('exit scheduler 0' and
    # 'run scheduler 0' apply new values to the node's housekeeping).
    Setting("scheduler_workers", 4, int, "Scheduled commands of the user schedulers that may run at the same time.",
            minimum=1),
    Setting("task_soft_timeout", Duration(300), Duration, "A scheduled command running longer is reported and asked to "
            "stop (queries stop; the task is not started again until it ends). A task's soft_timeout wins.",
            minimum=0.01),
    Setting("integrity_interval", Duration(86400), Duration, "How often archived files are re-read and compared with "
            "the MD5 recorded at ingest (system scheduler 0).", minimum=1),
    Setting("integrity_age_days", 7.0, float, "The integrity check reads the archived files ingested within this "
            "many days.", minimum=0),
    Setting("staging_clean_interval", Duration(300), Duration, "How often staging and temp files (partial transfers "
            "and uploads) untouched for twice this long are deleted (system scheduler 0).", minimum=1),
    Setting("housekeeping_soft_timeout", Duration(600), Duration, "Longest run of one housekeeping job; a long "
            "integrity check goes on where it stopped at its next run.", minimum=0.01),
    Setting("retention_interval", Duration(3600), Duration, "How often old error files and archives are deleted, "
            "when error_retention_days or archive_retention_days is set.", minimum=1),
    Setting("error_retention_days", 0.0, float, "Delete files of the error directory older than this many days "
            "(0: keep them).", minimum=0),
    Setting("metadata_ping_interval", Duration(60), Duration, "How often the operators the metadata marks "
            "not_responding are sent get status, so one that is back recovers (system scheduler 0).", minimum=0.01),
    Setting("peer_ping_timeout", Duration(2), Duration, "How long a ping of a peer (the metadata ping, test network, "
            "test node) waits for its answer.", minimum=0.01),
    Setting("archive_retention_days", 0.0, float, "Delete archived data files older than this many days "
            "(0: keep them).", minimum=0),
    Setting("prompt_max_rows", 1000, int, "Most rows of one result drawn at the prompt; the rest are counted "
            "(0: draw every row). Pipes and -e get every row.", minimum=0),
    Setting("pager", "less -SRXF", str, "Program that shows a result taller than the terminal at the prompt "
            "(empty: no pager). Never used when the output is not a terminal."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Value:
    """A setting's value and where it came from ("default", "<file>:<line>", "env ANYNODE_X", "override")."""

    value: Any
    source: str


def _normal(key: str) -> str:
    return key.strip().lower().replace("-", "_")


def _unknown(key: str, where: str) -> ConfigError:
    names = [s.name for s in SETTINGS]
    close = difflib.get_close_matches(key, names, n=1)
    hint = (f"did you mean '{close[0]}'? " if close else "") + "valid settings: " + ", ".join(names)
    return ConfigError(f"{where}: unknown setting '{key}'", hint=hint)


def _typed(key: str, raw: Any, where: str) -> Any:
    try:
        return _BY_NAME[key].convert(raw)
    except ValueError as exc:
        raise ConfigError(f"{where}: {key} = {str(raw)!r} is not {exc}", hint=f"{key}: {_BY_NAME[key].help}") from None


def read_config_file(path: Path) -> dict[str, tuple[str, str]]:
    """The ``key = value`` lines of ``path`` as {key: (raw value, "path:line")}.

    Raises ConfigError for a line that is not ``key = value`` or names an
    unknown setting.
    """
    out: dict[str, tuple[str, str]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", hint="fix or remove the file") from None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = f"{path}:{number}"
        key, sep, raw = stripped.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{where}: expected 'key = value', got {stripped!r}",
                              hint="one setting per line, e.g. stats_interval = 30 seconds")
        name = _normal(key)
        if name not in _BY_NAME:
            raise _unknown(key.strip(), where)
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
            raw = raw[1:-1]
        out[name] = (raw, where)
    return out


class Settings(Mapping[str, Any]):
    """The node's validated settings: a read-only mapping name → value.

    Also readable as attributes (``settings.stats_interval``). Build it with
    :meth:`load`; :meth:`reload` reads the same sources again.
    """

    def __init__(self, values: Mapping[str, Value], home: Path | None = None,
                 env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> None:
        self._values = dict(values)
        self._home = home
        self._env = env
        self._overrides = dict(overrides or {})
        self._runtime: dict[str, Value] = {}  # set by commands while the node runs (`set network key`)

    @classmethod
    def load(cls, home: str | Path | None = None, env: Mapping[str, str] | None = None,
             overrides: Mapping[str, Any] | None = None) -> Settings:
        """Defaults < ``<home>/anynode.cfg`` < ``ANYNODE_*`` env < ``overrides``.

        ``env`` defaults to os.environ as it is at each (re)load. Raises
        ConfigError on the first unknown key or bad value.
        """
        home_path = Path(home) if home is not None else None
        values = {s.name: Value(s.default, "default") for s in SETTINGS}
        if home_path is not None and (home_path / CONFIG_FILE).is_file():
            for name, (raw, where) in read_config_file(home_path / CONFIG_FILE).items():
                values[name] = Value(_typed(name, raw, where), where)
        environ = os.environ if env is None else env
        for var in sorted(environ):
            if not var.startswith(ENV_PREFIX) or var in ENV_IGNORED or var.startswith(ENV_IGNORED_PREFIXES):
                continue
            where = f"environment variable {var}"
            name = _normal(var[len(ENV_PREFIX):])
            if name not in _BY_NAME:
                raise _unknown(name, where)
            values[name] = Value(_typed(name, environ[var], where), f"env {var}")
        for key, raw in (overrides or {}).items():
            name = _normal(key)
            if name not in _BY_NAME:
                raise _unknown(key, "override")
            values[name] = Value(_typed(name, raw, "override"), "override")
        return cls(values, home_path, env, overrides)

    def reload(self) -> Settings:
        """New Settings from the same sources; raises ConfigError (keep the old ones) if they do not validate.

        Values set by commands while the node runs stay (they were the last word).
        """
        new = Settings.load(self._home, self._env, self._overrides)
        for name, value in self._runtime.items():
            new = new.with_value(name, value.value, value.source)
        return new

    def with_value(self, name: str, value: Any, source: str) -> Settings:
        """A copy with ``name`` set to ``value`` by ``source`` (a command such as ``set network key``)."""
        self._entry(name)  # an unknown name is a ConfigError
        key = _normal(name)
        entry = Value(_typed(key, value, source), source)
        new = Settings(self._values, self._home, self._env, self._overrides)
        new._values[key] = entry
        new._runtime = {**self._runtime, key: entry}
        return new

    def secret_values(self) -> list[str]:
        """The values of the settings declared secret that are set (for the node's Secrets book)."""
        return [str(self[s.name]) for s in SETTINGS if s.secret and self[s.name]]

    def shown(self) -> list[tuple[str, Any, str]]:
        """(name, value, source) as users see them: a secret setting's value is masked when set."""
        return [(name, _MASK if _BY_NAME[name].secret and value else value, source)
                for name, value, source in self.describe()]

    def source(self, name: str) -> str:
        """Where ``name``'s value came from."""
        return self._entry(name).source

    def changed(self, other: Settings) -> list[str]:
        """Names whose value differs between these settings and ``other``, in declaration order."""
        return [s.name for s in SETTINGS if self[s.name] != other[s.name]]

    def describe(self) -> list[tuple[str, Any, str]]:
        """(name, value, source) for every setting, in declaration order."""
        return [(s.name, self._values[s.name].value, self._values[s.name].source) for s in SETTINGS]

    def _entry(self, name: str) -> Value:
        key = _normal(name)
        if key not in self._values:
            raise _unknown(name, "setting")
        return self._values[key]

    def __getitem__(self, name: str) -> Any:
        return self._entry(name).value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._entry(name).value
        except ConfigError as exc:
            raise AttributeError(exc.one_line()) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{name}={value!r}" for name, value, _ in self.shown()) + ")"
