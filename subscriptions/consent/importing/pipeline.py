"""The set-based import: parse in Python, COPY into staging, decide and write in SQL per chunk.

Per chunk of CHUNK_ROWS rows, in one transaction:
1. each row is parsed and its address canonicalised by the one normaliser and hashed with the
   suppression key (in Python: the key never reaches the database), then COPY'd into the
   session's staging table (a temporary table: unlogged, private, emptied on commit); a row that
   cannot be read goes straight to the report;
2. SQL statements (sql.py) decide every row at once and write the contacts, subscriptions,
   suppressions and ledger rows; rule 5 is in the writing statement itself;
3. the report rows, the counts and the progress are written in the same transaction, so they
   always say exactly what is in the database.
A chunk that fails rolls back whole; the import then stops and names the first line not written.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from ...addresses import (
    LEGACY_VERSION,
    InvalidAddress,
    address_key,
    key_hash,
    normalize_email,
    version_keys,
)
from ...locales import InvalidLocale, normalize_locale
from ...models import Import
from ...models.choices import ImportMode, ImportRowOutcome, ImportStatus
from . import sql
from .reading import BadLine, Header, header_read, rows_read

# Rows per committed chunk: big enough that each statement's fixed cost is nothing per row,
# small enough that a failure costs little and memory stays flat.
CHUNK_ROWS = 50_000
KNOWN_COLUMNS = ("email", "external_id", "locale")
INVALID = ImportRowOutcome.INVALID


@dataclass
class _Columns:
    email: int
    external_id: int | None
    locale: int | None
    attributes: list[tuple[int, str]]
    width: int

    @classmethod
    def of(cls, header: Header) -> _Columns:
        columns = header.columns
        last = {name: index for index, name in enumerate(columns)}
        return cls(
            email=last["email"],
            external_id=last.get("external_id"),
            locale=last.get("locale"),
            attributes=[
                (index, name) for name, index in last.items() if name and name not in KNOWN_COLUMNS
            ],
            width=len(columns),
        )


def _hashes(email: str) -> tuple[str, str, str | None]:
    """(matching key, current hash, older version's hash where it differs)."""
    key = address_key(email)
    current = key_hash(key)
    legacy = None
    if "xn--" in key:  # only IDNA domains spell differently under version 1
        older = version_keys(email).get(LEGACY_VERSION)
        if older is not None and key_hash(older) != current:
            legacy = key_hash(older)
    return key, current, legacy


def _parse(
    line: int, cells: list[str], columns: _Columns, keep_address: bool
) -> tuple | tuple[str, str]:
    """The staging row of one CSV row, or (detail, typed email) when the row is invalid."""
    if len(cells) > columns.width:
        return (f"{len(cells)} fields, header has {columns.width}", "")
    for index, cell in enumerate(cells):
        if "\x00" in cell:
            # PostgreSQL cannot store NUL in text; say which cell, never echo the bytes.
            name = next(
                (n for i, n in columns.attributes if i == index),
                "email"
                if index == columns.email
                else "external_id"
                if index == columns.external_id
                else "locale",
            )
            return (f"a NUL byte in column {name!r}", "")
    raw = cells[columns.email].strip() if columns.email < len(cells) else ""
    if not raw:
        return ("email is empty", "")
    typed = raw[:254] if keep_address else ""
    try:
        email = normalize_email(raw)
    except InvalidAddress as error:
        return (str(error), typed)
    key, current, legacy = _hashes(email)
    if not keep_address:
        return (line, None, None, current, legacy, None, None, None)
    external_id = locale = None
    if columns.external_id is not None and columns.external_id < len(cells):
        external_id = cells[columns.external_id].strip() or None
        if external_id and len(external_id) > 255:
            return ("external_id is too long", typed)
    if columns.locale is not None and columns.locale < len(cells):
        locale = cells[columns.locale].strip() or None
        if locale:
            try:
                locale = normalize_locale(locale)
            except InvalidLocale as error:
                return (f"locale: {error}", typed)
    attributes = {}
    for index, name in columns.attributes:
        if index < len(cells):
            value = cells[index].strip()
            if value:
                attributes[name] = value
    return (
        line,
        email,
        key,
        current,
        legacy,
        external_id,
        locale,
        json.dumps(attributes) if attributes else None,
    )


@dataclass
class _Progress:
    bytes_done: int = 0
    last_line: int = 0

    def add(self, size: int) -> None:
        self.bytes_done += size


def _chunk_copy(
    cursor, rows: Iterator, columns: _Columns, keep_address: bool, errors: list, tracker
) -> int:
    """COPY up to CHUNK_ROWS parsed rows into staging; unreadable rows go to `errors`.

    Returns the number of rows taken (0 at the end of the file). The chunk is parsed before the
    COPY starts: the stored file is read through the same connection, busy during a COPY.
    """
    staged = []
    taken = 0
    for item in rows:
        taken += 1
        if isinstance(item, BadLine):
            tracker.last_line = item.line
            errors.append((item.line, INVALID, "", item.detail))
        else:
            line, cells = item
            tracker.last_line = line
            parsed = _parse(line, cells, columns, keep_address)
            if len(parsed) == 2:
                errors.append((line, INVALID, parsed[1], parsed[0]))
            else:
                staged.append(parsed)
        if taken >= CHUNK_ROWS:
            break
    # Emptied at every commit, but a dry run's chunks and an outer transaction never commit.
    cursor.execute("TRUNCATE import_staging")
    if staged:
        with cursor.copy(sql.STAGING_COPY) as copy:
            write_row = copy.write_row
            for row in staged:
                write_row(row)
    return taken


def _report_copy(cursor, run: Import, errors: list) -> None:
    if errors:
        with cursor.copy(sql.REPORT_COPY) as copy:
            for line, outcome, email, detail in errors:
                copy.write_row((run.pk, line, outcome, email, detail))


def _chunk(
    cursor, run: Import, rows: Iterator, columns: _Columns, progress: _Progress, first: bool
) -> Counter | None:
    """Import one chunk in the current transaction; its counts, or None at the end."""
    keep_address = run.mode != ImportMode.SUPPRESS
    errors: list = []
    taken = _chunk_copy(cursor, rows, columns, keep_address, errors, progress)
    if not taken:
        return None
    counts = Counter()
    if run.dry_run:
        savepoint = transaction.savepoint()
        counts.update(sql.chunk_apply(cursor, run, first=first))
        errors.extend(sql.staging_report(cursor, run))
        transaction.savepoint_rollback(savepoint)
    else:
        counts.update(sql.chunk_apply(cursor, run, first=first))
        sql.staging_report_write(cursor, run)
    counts[INVALID] += len(errors)
    _report_copy(cursor, run, errors)
    counts["rows"] = taken
    return counts


def pipeline_run(
    run: Import, stream: BinaryIO, *, progress: Callable[[Import], None] | None = None
) -> Import:
    """Run `run` (already claimed: status running) over `stream`; leave it done or failed."""
    tracker = _Progress()
    try:
        header = header_read(stream, tracker.add)
    except ValueError as error:  # ImportFileError: checked at start, so only a changed file
        return _finish(run, ImportStatus.FAILED, str(error))
    columns = _Columns.of(header)
    rows = rows_read(stream, header, tracker.add)
    if run.committed_through_line:  # a run taken over from a stopped worker goes on after it
        done = run.committed_through_line
        rows = (item for item in rows if _line_of(item) > done)
    totals: Counter = Counter(run.counts)
    with connection.cursor() as cursor:
        sql.staging_create(cursor)
        first = True
        while True:
            first_line = run.committed_through_line + 1
            try:
                with transaction.atomic():
                    counts = _chunk(cursor, run, rows, columns, tracker, first)
                    first = False
                    if counts is None:
                        break
                    run.rows += counts.pop("rows")
                    totals.update(counts)
                    run.counts = dict(totals)
                    run.bytes_done = tracker.bytes_done
                    run.committed_through_line = _line_reached(tracker, run)
                    run.save(
                        update_fields=["rows", "counts", "bytes_done", "committed_through_line"]
                    )
            except DatabaseError as error:
                reason = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
                return _finish(
                    run,
                    ImportStatus.FAILED,
                    f"Stopped at the chunk starting at line {first_line}: {reason}. Every row "
                    f"before line {first_line} is imported (see the report); nothing from line "
                    f"{first_line} on was written. Fix the cause and import the rest again.",
                )
            if progress is not None:
                progress(run)
    return _finish(run, ImportStatus.DONE, "")


def _line_of(item) -> int:
    return item.line if isinstance(item, BadLine) else item[0]


def _line_reached(tracker: _Progress, run: Import) -> int:
    return tracker.last_line or run.committed_through_line


def _finish(run: Import, status: str, error: str) -> Import:
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    return run
