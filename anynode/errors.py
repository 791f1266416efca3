"""Errors that cross module boundaries.

Every error a user can cause or meet is an :class:`AnyNodeError`: a one-line
message, an optional hint ("did you mean ..."), an exit code for the CLI, an
HTTP status for the REST server and, where AnyLog has one, its status code.
They are raised in the core and rendered at the edges (CLI, REPL, servers,
service runner); nothing in between catches them to print.
"""

from __future__ import annotations

from anynode.codes import Code


class AnyNodeError(Exception):
    """Base of every error a user may see.

    Args:
        message: what was wrong, in one line.
        hint: what would be right, or None.
    """

    exit_code: int = 1
    http_status: int = 400
    anylog_code: int = Code.PROCESS_FAILURE
    offset: int | None = None  # position in the command line, when known

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and hint as the single line a user is shown."""
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def to_wire(self) -> dict[str, object]:
        """The error as carried by the network and REST replies."""
        out: dict[str, object] = {
            "error": self.message,
            "kind": type(self).__name__,
            "status": self.http_status,
            "code": int(self.anylog_code),
        }
        if self.hint:
            out["hint"] = self.hint
        return out


class CommandNotFound(AnyNodeError):
    """The words name no command."""

    exit_code = 2
    anylog_code = Code.UNRECOGNIZED_COMMAND


class CommandSyntaxError(AnyNodeError):
    """A command line that does not follow the grammar of its command.

    ``offset`` is the character position of the offending word in the line,
    so the edges can point at it.
    """

    exit_code = 2
    anylog_code = Code.COMMAND_STRUCTURE

    def __init__(self, message: str, hint: str | None = None, offset: int | None = None) -> None:
        super().__init__(message, hint)
        self.offset = offset


class ValidationError(CommandSyntaxError):
    """An option or argument value that its type refuses."""


class NotPermitted(AnyNodeError):
    """A command a caller may not run (a peer running a local-only command)."""

    http_status = 403
    anylog_code = Code.NOT_IN_COMMAND_TABLE


class ConfigError(AnyNodeError):
    """Settings that do not validate."""

    exit_code = 78


class ServiceError(AnyNodeError):
    """A background service that could not start, stop or answer."""

    http_status = 409
    anylog_code = Code.PROCESS_FAILURE


class AlreadyRunning(ServiceError):
    """A service asked to start while it runs (AnyLog: Process already active)."""

    anylog_code = Code.ALREADY_ACTIVE


class NodeLocked(AnyNodeError):
    """Another node process holds the node home."""

    exit_code = 75


class StoreError(AnyNodeError):
    """A database or metadata store failure.

    Its HTTP status follows its cause (``raise StoreError(...) from exc``):
    SQL that the database refused (a syntax error, an unknown table or
    column, a value of the wrong type, a write on a read-only connection) is
    the client's mistake, 400; anything else (I/O, locks, lost connections,
    no cause) is the node's, 500. The driver's own error class and code
    decide, not the text of its message.
    """

    anylog_code = Code.SQL_FAILURE
    _status: int | None = None

    @property
    def http_status(self) -> int:
        """400 for SQL the database refused, else 500 (unless set)."""
        if self._status is not None:
            return self._status
        return 400 if _refused_sql(self.__cause__) else 500

    @http_status.setter
    def http_status(self, value: int) -> None:
        self._status = value


# SQLite result codes of a statement the database refuses (https://sqlite.org/rescode.html):
# ERROR (syntax, no such table/column), READONLY, TOOBIG, CONSTRAINT, MISMATCH, AUTH, RANGE.
_SQLITE_REFUSED = frozenset({1, 8, 18, 19, 20, 23, 25})
# PostgreSQL SQLSTATE classes of the same (https://www.postgresql.org/docs/current/errcodes-appendix.html):
# 0A not supported, 21 cardinality, 22 data, 23 integrity, 25 transaction state (read-only), 2B, 3F schema,
# 42 syntax or access rule (undefined table or column, permission), 44 check option.
_PG_REFUSED = frozenset({"0A", "21", "22", "23", "25", "2B", "3F", "42", "44"})


def _refused_sql(cause: BaseException | None) -> bool:
    """True when ``cause`` is a database driver's refusal of the SQL it was given."""
    if cause is None:
        return False
    import sqlite3

    if isinstance(cause, (sqlite3.ProgrammingError, sqlite3.DataError, sqlite3.IntegrityError)):
        return True
    if isinstance(cause, sqlite3.DatabaseError):  # OperationalError, and the authorizer's "not authorized"
        code = getattr(cause, "sqlite_errorcode", None)
        return isinstance(code, int) and code & 0xFF in _SQLITE_REFUSED  # the primary code of an extended one
    sqlstate = getattr(cause, "sqlstate", None)  # psycopg's errors carry the server's SQLSTATE
    return isinstance(sqlstate, str) and sqlstate[:2] in _PG_REFUSED


class NoSuchDatabase(StoreError):
    """A logical database that is not connected."""

    http_status = 404
    anylog_code = Code.DBMS_NAME


class NoSuchTable(StoreError):
    """A table that a connected database does not have."""

    http_status = 400


class IngestError(AnyNodeError):
    """A data file that cannot be ingested; ``code`` is AnyLog's status code."""

    http_status = 422

    def __init__(self, message: str, hint: str | None = None, code: int = Code.BAD_JSON_FILE) -> None:
        super().__init__(message, hint)
        self.anylog_code = code


class DuplicateFile(IngestError):
    """A data file whose rows are already in (AnyLog's code 86); ``file_hash`` is the hash they are recorded under."""

    def __init__(self, message: str, hint: str | None = None, file_hash: str = "") -> None:
        super().__init__(message, hint, code=Code.DUPLICATE_JSON_FILE)
        self.file_hash = file_hash


class RemoteError(AnyNodeError):
    """A peer that could not be reached or answered with an error."""

    http_status = 502
    anylog_code: int = Code.NETWORK_ERROR  # int: a peer's error carries the code the peer sent


class RemoteTimeout(RemoteError):
    """A peer that did not answer in time."""

    http_status = 504
    anylog_code = Code.TIMEOUT


class ScriptError(AnyNodeError):
    """A script line that failed; the message starts with ``FILE:LINE:``."""

    anylog_code = Code.SCRIPT_ERROR

    def __init__(self, path: str, line: int, cause: AnyNodeError | str) -> None:
        text = cause.one_line() if isinstance(cause, AnyNodeError) else cause
        # Line 0: the script as a whole (missing, unreadable), not one of its lines.
        super().__init__(f"{path}:{line}: {text}" if line else f"{path}: {text}")
        self.cause_text = text
        self.path = path
        self.line = line
        self.cause = cause
        if isinstance(cause, AnyNodeError):
            self.exit_code = cause.exit_code


INTERNAL_ERROR = 70  # sysexits EX_SOFTWARE: a bug, never a user's mistake


def exit_status(exc: BaseException) -> int:
    """The exit status of a command line that failed with ``exc``: the AnyLog code a REST client sees.

    The exceptions are failures of the process rather than of a command, in
    the sysexits range: the home in use (75), unusable (73, 74), settings that
    do not validate (78), and an internal error (70). A script's error exits
    with the status of the line that failed.
    """
    if not isinstance(exc, AnyNodeError):
        return INTERNAL_ERROR
    if isinstance(exc, ScriptError) and isinstance(exc.cause, AnyNodeError):
        return exit_status(exc.cause)
    if exc.exit_code >= 64:
        return exc.exit_code
    return int(exc.anylog_code)


class QueryCancelled(AnyNodeError):
    """Work stopped on purpose before it ended (a REST timeout, the node stopping, Ctrl-C)."""

    http_status = 504


class ResultTooLarge(AnyNodeError):
    """A query's rows passed the node's cap on what one reply may hold (the client narrows the query)."""

    http_status = 400
