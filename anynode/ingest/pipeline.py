"""The ingest pipeline: a JSON file (or rows) into a table, once.

``file name -> dbms/table -> read in batches -> columns and types -> schema
change if needed -> bulk insert``, all of one file in one transaction on the
database's writer together with the file's ``tsd_info`` record, so that a
file is either fully in the table and recorded, or not at all (see
:mod:`anynode.store.tsd` for where the records live and why).

Reading and preparing (parse, flatten, types, timestamps) run in the
caller's thread; the writer only fits the schema and inserts. Batches pass
through a :class:`~anynode.ingest.handoff.Handoff` of depth 4, so a big file is read while its
earlier batches are inserted (SQLite releases the GIL while it steps) and the
memory stays bounded, and an operator with ``threads`` > 1 prepares one file
while the writer inserts another. Used by the
operator (watch directory), REST PUT/POST and tests; it starts no thread of
its own and leaves files where they are (moving them is the operator's job).

A ``cancel`` callable (the operator passes its stop event's ``is_set``) is
asked before each chunk is read and each batch is handed on: when it says
stop, :class:`~anynode.ingest.reader.IngestCancelled` is raised, the
transaction rolls back, and the file can be ingested again later, once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, wait as wait_all
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from anynode.codes import Code
from anynode.errors import DuplicateFile, IngestError
from anynode.ingest.handoff import Handoff
from anynode.ingest.naming import TABLE_NAME, FileName
from anynode.ingest.parse_worker import ParsePool
from anynode.ingest.reader import IngestCancelled, body_hash, file_hash, read_batches, small_file
from anynode.ingest.rows import DEFAULT_LIMITS, ReadLimits, bad
from anynode.ingest.target import TargetTable, check_target, limits_for, target_db
from anynode.ingest.transform import ColumnBatch, column_values, prepare
from anynode.store import tsd
from anynode.store.backend import SYSTEM_COLUMNS, Backend
from anynode.store.catalog import Database, DatabaseCatalog, driver_errors
from anynode.store.partitioned import ingest_target
from anynode.store.partitions import PartitionSpec

_SYSTEM_NAMES = [n for n, _ in SYSTEM_COLUMNS]


@dataclass(frozen=True)
class IngestReport:
    """What one ingest did: where the rows went, how many, how long, and the file's record.

    ``name`` is the file's 8-section name (``dbms.table.source.hash.instr.member.file_id.date``)
    for archiving; ``file_id`` is its row in ``almgm.tsd_info`` (0 when not recorded).
    ``recorded`` is the pending update of that row's count when the caller asked
    not to wait for it (``defer_record``): done once almgm holds the row count.
    """

    dbms: str
    table: str
    rows: int
    seconds: float
    file_hash: str | None
    file_id: int = 0
    columns_added: tuple[str, ...] = ()
    columns_widened: tuple[str, ...] = ()
    name: FileName | None = None
    recorded: Future[None] | None = field(default=None, compare=False, repr=False)


def _almgm(catalog: DatabaseCatalog, name: str) -> Database:
    if not catalog.is_connected(name):
        catalog.connect(name)
    return catalog.get(name)


def _load(conn: Any, backend: Backend, table: str, first: ColumnBatch, more: Callable[[], ColumnBatch | None],
          member: str, allocated: Future[int] | None, rec: tsd.TsdRecord | None,
          progress: Callable[[int], None] | None = None, spec: PartitionSpec | None = None
          ) -> tuple[int, list[str], list[str]]:
    """The writer job: every batch into the table and the file's record, in the caller's transaction.

    ``allocated`` gives the file's id in almgm (its writer makes the record meanwhile; none: 0).
    ``progress(n)`` is told the rows inserted so far (not yet committed) after each batch. A partitioned
    table (``spec``) takes its rows through :func:`ingest_target`, each into its period's partition.
    """
    file_id = 0 if allocated is None else allocated.result()
    have_tsd = rec is not None and tsd.exists(backend, conn)
    if rec is not None and have_tsd and tsd.lookup(backend, conn, rec.file_hash, known=True):
        raise _duplicate(rec.file_hash, rec.dbms)
    # partition hook: a partitioned table takes its rows through a PartitionedTarget (store/partitioned.py)
    target = ingest_target(backend, conn, table, spec)
    state = TargetTable(target, conn, table)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    inserted: Any = str(now) if backend.timestamps_as_text else now
    constants = list(zip(_SYSTEM_NAMES, (inserted, member, file_id), strict=True))
    n = 0
    batch: ColumnBatch | None = first
    while batch is not None:
        types = state.fit(batch)
        values = [column_values(batch, c, t) for c, t in zip(batch.columns, types, strict=True)]
        target.insert_rows(conn, table, batch.columns, types, batch.rows(values), constants)
        n += batch.size
        if progress is not None:
            progress(n)
        batch = more()
    if rec is not None:
        tsd.record(backend, conn, file_id, rec, n, known=have_tsd)
    return n, state.added, state.widened


def _write(db: Database, table: str, prepared: Iterator[ColumnBatch], member: str,
           allocated: Future[int] | None,
           rec: tsd.TsdRecord | None, timeout: float | None,
           cancel: Callable[[], bool] | None = None, progress: Callable[[int], None] | None = None,
           spec: PartitionSpec | None = None) -> Future[tuple[int, list[str], list[str]]]:
    """Hand the prepared batches (made here one by one, or by a parse worker) to the writer, in one transaction.

    Returns once every batch is handed on (or the read failed, which the job then raises):
    the writer job's future, done when the transaction committed or rolled back. A partitioned table
    has its rows split by period as they are inserted (store/partitioned.py).
    """
    first = next(prepared, None)  # bad data fails here, before the writer is held
    if first is None:
        raise bad("No rows to ingest", hint="send at least one JSON object")
    handoff = Handoff()
    job = db.writer.submit(lambda conn: _load(conn, db.backend, table, first, handoff.next, member,
                                              allocated, rec, progress, spec))
    try:
        for batch in prepared:
            if cancel is not None and cancel():
                raise IngestCancelled()
            if not handoff.put(batch, job):
                break
    except BaseException as exc:  # the job rolls back and re-raises it
        handoff.fail(exc, job)
    else:
        handoff.end(job)
    return job


def _duplicate(file_hash: str, dbms: str) -> DuplicateFile:
    return DuplicateFile(f"Duplicate JSON File: hash {file_hash} is already ingested in {dbms}",
                         hint="its rows are already in the table; nothing was inserted again", file_hash=file_hash)


def _start(catalog: DatabaseCatalog, dbms: str, table: str, read: Callable[[ReadLimits, bool], Iterator[ColumnBatch]],
           *, file_hash: str | None, source: str,
           instructions: str, member: str, limits: ReadLimits, almgm: str, timeout: float | None,
           cancel: Callable[[], bool] | None = None, progress: Callable[[int], None] | None = None,
           defer_record: bool = False) -> Callable[[float | None], tuple[IngestReport, datetime]]:
    """Read, prepare and hand every batch to the writer; the answer waits for the commit and reports."""
    start = time.perf_counter()
    db = target_db(catalog, dbms, table)
    limits = limits_for(db, limits)
    batches = read(limits, db.backend.timestamps_as_text)
    when = datetime.now(timezone.utc)
    rec = None
    allocated: Future[int] | None = None
    if file_hash:
        rec = tsd.TsdRecord(dbms, table, source, file_hash, instructions, when.replace(tzinfo=None))
        done = _committed(db, file_hash)
        mgm = _almgm(catalog, almgm)
        if done is not None:
            mgm.writer.run(lambda c: tsd.set_rows(mgm.backend, c, file_hash, done[1]), timeout)
            raise _duplicate(file_hash, dbms)
        # the record's row in almgm is made by its writer while the rows are read (the rows' job waits for its id)
        allocated = mgm.writer.submit(lambda c: tsd.allocate(mgm.backend, c, rec))
    try:
        job = _write(db, table, batches, member, allocated, rec, timeout, cancel, progress,
                     catalog.partitions.lookup(dbms, table))
    except BaseException:  # refused before the writer was held: its record (rows 0) is made all the same
        if allocated is not None:
            wait_all([allocated], timeout)
        raise
    recorded = _count_when_committed(job, _almgm(catalog, almgm), rec) if rec is not None else None

    def finish(wait: float | None) -> tuple[IngestReport, datetime]:
        try:
            rows, added, widened = job.result(wait)
        except driver_errors() as exc:
            if allocated is not None and allocated.exception() is exc:
                raise  # almgm could not record the file: not a refusal of its rows
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise IngestError(f"Database {dbms} refused the rows for table {table}: {text}",
                              hint="check the table's columns against the data", code=Code.JSON_TO_SQL) from exc
        if recorded is not None and not defer_record:
            recorded.result(wait)
        file_id = 0 if allocated is None else allocated.result()
        report = IngestReport(dbms, table, rows, time.perf_counter() - start, file_hash, file_id,
                              tuple(added), tuple(widened), recorded=recorded if defer_record else None)
        return report, when

    return finish


def _count_when_committed(job: Future[tuple[int, list[str], list[str]]], mgm: Database,
                          rec: tsd.TsdRecord) -> Future[None]:
    """Queue almgm's row count for the file the moment its rows commit; done when written (or not needed).

    Bookkeeping after the commit, in almgm's own transaction: a replay after a
    crash in between repairs it (see :func:`_committed`).
    """
    recorded: Future[None] = Future()

    def relay(inner: Future[None]) -> None:
        exc = inner.exception()
        recorded.set_result(None) if exc is None else recorded.set_exception(exc)

    def committed(done: Future[tuple[int, list[str], list[str]]]) -> None:
        if done.cancelled() or done.exception() is not None:
            recorded.set_result(None)  # nothing committed, nothing to count
            return
        rows = done.result()[0]
        try:
            mgm.writer.submit(lambda c: tsd.set_rows(mgm.backend, c, rec.file_hash, rows)).add_done_callback(relay)
        except Exception as exc:  # almgm's writer is closed: the next start repairs the count
            recorded.set_exception(exc)

    job.add_done_callback(committed)
    return recorded


def _run(catalog: DatabaseCatalog, dbms: str, table: str, read: Callable[[ReadLimits], Iterable[list[dict[str, Any]]]],
         *, timeout: float | None, **options: Any) -> tuple[IngestReport, datetime]:
    return _start(catalog, dbms, table, _prepared(read), timeout=timeout, **options)(timeout)


def _prepared(read: Callable[[ReadLimits], Iterable[list[dict[str, Any]]]]
              ) -> Callable[[ReadLimits, bool], Iterator[ColumnBatch]]:
    """A reader of row batches as a reader of prepared batches (prepared in the caller's thread, one by one)."""
    return lambda lim, as_text: (prepare(rows, lim.max_depth, as_text) for rows in read(lim))


def _committed(db: Database, file_hash: str) -> tuple[int, int] | None:
    with db.backend.reader() as conn:
        return tsd.lookup(db.backend, conn, file_hash)


def ingest_file(path: str | Path, catalog: DatabaseCatalog, *, name: FileName | None = None, member: str = "0",
                limits: ReadLimits = DEFAULT_LIMITS, almgm: str = "almgm",
                timeout: float | None = None, cancel: Callable[[], bool] | None = None,
                progress: Callable[[int], None] | None = None, defer_record: bool = False) -> IngestReport:
    """Ingest one data file named by AnyLog's convention into ``dbms.table``; the file is not moved.

    ``name`` is the file's name already parsed (the operator's); without it the
    name of ``path`` is parsed. The hash in the name is used when there is one,
    else it is computed (md5 of ``dbms.table`` + content). ``member`` goes into
    every row's ``tsd_name``. ``progress(n)`` hears the rows inserted so far
    (uncommitted) after each batch. With ``defer_record`` the row count in
    ``almgm.tsd_info`` is updated after the commit without waiting: the report's
    ``recorded`` future says when (the operator archives the file only then).

    Raises:
        IngestError: with AnyLog's code: 119 bad name, 10 dbms not connected, 67 bad JSON,
            27 values the table cannot take, 86 file already ingested.
        IngestCancelled: ``cancel()`` said stop; nothing was inserted.
    """
    name = FileName.parse(path) if name is None else name
    return start_file(path, catalog, name=name, member=member, limits=limits, almgm=almgm, timeout=timeout,
                      cancel=cancel, progress=progress, defer_record=defer_record).result(timeout)


class PendingIngest:
    """A file whose rows are all read and handed to the database's writer; :meth:`result` waits for the commit.

    The operator starts its next file meanwhile: the writer inserts one file
    while the next is read and prepared.
    """

    def __init__(self, finish: Callable[[float | None], IngestReport]) -> None:
        self._finish = finish

    def result(self, timeout: float | None = None) -> IngestReport:
        """The report once the rows and record committed; raises what :func:`ingest_file` does."""
        return self._finish(timeout)


def start_file(path: str | Path, catalog: DatabaseCatalog, *, name: FileName, member: str = "0",
               limits: ReadLimits = DEFAULT_LIMITS, almgm: str = "almgm", timeout: float | None = None,
               cancel: Callable[[], bool] | None = None, progress: Callable[[int], None] | None = None,
               defer_record: bool = False, parser: ParsePool | None = None) -> PendingIngest:
    """:func:`ingest_file` up to the moment every row is read and handed to the writer; the commit follows.

    Errors found while reading (bad name, bad JSON, a duplicate already committed) are
    raised here; the writer's (rows the table refuses, a duplicate committed meanwhile)
    by :meth:`PendingIngest.result`. The file must stay where it is until then. With a
    ``parser``, a small file is read and prepared by one of its worker processes when one is
    free (same batches, same errors; see :mod:`anynode.ingest.parse_worker`).
    """
    parsed = parser.parse_file(path, catalog, name, limits, cancel) if parser is not None else None
    read: Callable[[ReadLimits, bool], Iterator[ColumnBatch]]
    if parsed is not None:
        fhash = name.hash if name.hash != "0" else parsed.file_hash
        read = lambda lim, as_text: parsed.replay()  # noqa: E731
    else:
        data = small_file(path, limits.whole_file_bytes)  # read once; hashed and parsed from memory
        source: str | Path | bytes = path if data is None else data
        if name.hash != "0":
            fhash = name.hash
        elif data is not None:
            fhash = body_hash(data, name.dbms, name.table)
        else:
            fhash = file_hash(path, name.dbms, name.table, limits.chunk_bytes, cancel)
        read = _prepared(lambda lim: read_batches(source, lim, cancel))
    finish = _start(catalog, name.dbms, name.table, read,
                    file_hash=fhash, source=name.source, instructions=name.instructions, member=member,
                    limits=limits, almgm=almgm, timeout=timeout, cancel=cancel, progress=progress,
                    defer_record=defer_record)

    def named(wait: float | None) -> IngestReport:
        report, when = finish(wait)
        return replace(report, name=name.with_hash(fhash).with_tsd(member, report.file_id, when))

    return PendingIngest(named)


def ingest_rows(rows: bytes | Sequence[dict[str, Any]], dbms: str, table: str, catalog: DatabaseCatalog, *,
                file_hash: str | None = None, source: str = "0", instructions: str = "0", member: str = "0",
                limits: ReadLimits = DEFAULT_LIMITS, almgm: str = "almgm",
                timeout: float | None = None) -> IngestReport:
    """Ingest rows that did not come from a file (REST PUT/POST): a JSON body or a list of objects.

    With ``file_hash`` (e.g. :func:`anynode.ingest.reader.body_hash` of the body) the rows are
    recorded in tsd_info and a repeat is refused with code 86; without it they are not recorded.
    """
    dbms, table = dbms.lower(), table.lower()
    if not TABLE_NAME.fullmatch(table):
        raise IngestError(f"Table name {table!r} is not a name",
                          hint="letters, digits and _, not starting with a digit", code=Code.FILE_NAME_STRUCTURE)
    read: Callable[[ReadLimits], Iterable[list[dict[str, Any]]]]
    if isinstance(rows, (bytes, bytearray)):
        body = bytes(rows)
        read = lambda lim: read_batches(body, lim)  # noqa: E731
    else:
        listed = list(rows)
        read = lambda lim: _list_batches(listed, lim.batch_rows)  # noqa: E731
    report, _ = _run(catalog, dbms, table, read, file_hash=file_hash, source=source,
                     instructions=instructions, member=member, limits=limits, almgm=almgm, timeout=timeout)
    return report


def _list_batches(rows: list[Any], size: int) -> Iterator[list[dict[str, Any]]]:
    for i, r in enumerate(rows):
        if type(r) is not dict:
            raise bad(f"Row {i + 1} is {type(r).__name__}, not a JSON object",
                      hint="every row must be an object like {\"column\": value}")
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


__all__ = ["IngestReport", "PendingIngest", "check_target", "ingest_file", "ingest_rows", "start_file"]
