"""AnyLog's data file name convention.

``dbms.table[.source[.hash[.instructions]]].json[.gz]`` or, once a node has
ingested the file, the 8-section form
``dbms.table.source.hash.instructions.member.file_id.date.json[.gz]``.
A name that does not follow it is refused with AnyLog status 119 ("Error with
file name structure") and a hint that shows the expected shape.

:class:`FileName` is the one type for these names: it parses one (once per
file: the operator hands the parsed name on to the pipeline), renames it
(``dbms_name``/``table_name``, the hash, the 8-section form) and writes it
back as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import PurePath

from anynode.codes import Code
from anynode.errors import IngestError

SHAPE = "dbms.table[.source.hash.instructions].json (or .json.gz), e.g. demo.sensor.json"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: A database or table name given outside a file name (REST headers, ingest_rows), lower-cased first.
TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SUFFIXES = (".json.gz", ".json")


def _bad(name: str, why: str) -> IngestError:
    return IngestError(f"File name {name!r}: {why}", hint=f"name data files {SHAPE}", code=Code.FILE_NAME_STRUCTURE)


def _check_names(base: str, dbms: str, table: str) -> None:
    for what, value in (("dbms", dbms), ("table", table)):
        if not _IDENT.match(value) or len(value) > 63:
            raise _bad(base, f"{what} {value!r} is not a name (letters, digits and _, not starting with a digit)")


@dataclass(frozen=True)
class FileName:
    """A data file's name, in sections; unnamed sections take AnyLog's defaults.

    ``member``/``file_id``/``date`` are set only in the 8-section form (``member``
    ``"@"`` means the rows were already written by a streaming REST call).
    ``str()`` gives the name back (``dbms.table.json`` when the three middle
    sections are all ``0``).
    """

    dbms: str
    table: str
    source: str = "0"
    hash: str = "0"
    instructions: str = "0"
    member: str | None = None
    file_id: int = 0
    date: str | None = None
    compressed: bool = False

    @classmethod
    def parse(cls, name: str | PurePath) -> FileName:
        """Split a file name (a path is fine: only its last part counts) into its sections.

        Raises:
            IngestError: code 119, with what was wrong and the expected shape.
        """
        base = PurePath(name).name
        low = base.lower()
        suffix = next((s for s in _SUFFIXES if low.endswith(s)), None)
        if suffix is None:
            raise _bad(base, "a data file name ends with .json or .json.gz")
        stem = base[: -len(suffix)]
        parts = stem.split(".")
        if len(parts) < 2:
            raise _bad(base, "JSON file name is missing dbms.table section")
        if any(p == "" for p in parts):
            raise _bad(base, "empty section (two dots in a row, or a dot at the start)")
        if len(parts) > 5 and len(parts) != 8:
            raise _bad(base, f"{len(parts)} sections; a name has 2 to 5 sections, or 8 after ingest")
        dbms, table = parts[0].lower(), parts[1].lower()
        _check_names(base, dbms, table)
        source, fhash, instructions = (parts[2:5] + ["0", "0", "0"])[:3]
        fn = cls(dbms, table, source, fhash, instructions, compressed=suffix == ".json.gz")
        if len(parts) == 8:
            member, row_id, date = parts[5:8]
            if member != "@" and not member.isdigit():
                raise _bad(base, f"member {member!r} must be a number (or @)")
            if not row_id.isdigit() or int(row_id) == 0:
                raise _bad(base, f"file id {row_id!r} must be a number above 0")
            if len(date) < 12 or not date.isdigit():
                raise _bad(base, f"date {date!r} must be YYMMDDHHMMSS")
            fn = replace(fn, member=member, file_id=int(row_id), date=date)
        return fn

    @property
    def has_tsd(self) -> bool:
        """True for the 8-section form (the file was ingested by some node)."""
        return self.member is not None

    @property
    def table_key(self) -> str:
        """``dbms.table``: where the file's rows go."""
        return f"{self.dbms}.{self.table}"

    def retarget(self, dbms: str | None = None, table: str | None = None) -> FileName:
        """The same name with its rows going to ``dbms`` and/or ``table`` (None keeps that section).

        Raises:
            IngestError: code 119 when the new database or table is not a name.
        """
        if not dbms and not table:
            return self
        new = replace(self, dbms=(dbms or self.dbms).lower(), table=(table or self.table).lower())
        _check_names(str(new), new.dbms, new.table)
        return new

    def with_tsd(self, member: str, file_id: int, when: datetime | None = None) -> FileName:
        """The same name in its 8-section form, as it is archived after ingest."""
        when = when or datetime.now(timezone.utc)
        return replace(self, member=member, file_id=file_id, date=when.strftime("%y%m%d%H%M%S"))

    def with_member(self, member: str) -> FileName:
        """The same 8-section name with another member section (``@`` replaced by this node's id)."""
        return replace(self, member=member)

    def with_hash(self, file_hash: str) -> FileName:
        """The same name carrying the file's hash."""
        return replace(self, hash=file_hash)

    def __str__(self) -> str:
        parts = [self.dbms, self.table, self.source, self.hash, self.instructions]
        if self.has_tsd:
            parts += [str(self.member), str(self.file_id), str(self.date)]
        elif (self.source, self.hash, self.instructions) == ("0", "0", "0"):
            parts = parts[:2]
        return ".".join(parts) + (".json.gz" if self.compressed else ".json")
