"""Importing contacts from a CSV file: streamed, row by row, never re-subscribing an opt-out.

`contacts_import` is the one service behind `manage.py import_contacts` and the admin upload.
It reads the file in constant memory (one line at a time, each line capped), decodes each
line on its own so one badly encoded row is one invalid row, and reports an outcome per row.
Each row runs in its own savepoint, so a row the database refuses is one invalid row, and
outcomes are reported only once their chunk has committed: the report never counts a row that
was rolled back.
Rule 5 holds because subscribing goes through `consent.subscription_subscribe`, which refuses
anyone who unsubscribed or is suppressed; suppressed addresses are not even created.
"""

from __future__ import annotations

import csv
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from django.db import DataError, IntegrityError, transaction

from ...addresses import InvalidAddress, normalize_email
from ...locales import InvalidLocale, normalize_locale
from ...models import Subscription, Suppression, Topic
from ...models.choices import ImportRowOutcome, LegalBasis, Source, SubscriptionStatus
from ..contacts import contact_get_or_create
from ..errors import ResubscribeRequiresConfirmation
from ..ledger import Actor
from ..subscriptions import subscription_subscribe
from .errors import ImportFileError

# Longest line accepted; longer lines are reported invalid and skipped without being kept.
MAX_LINE_BYTES = 64 * 1024
# Rows committed per transaction: fewer commits, while a failure still costs one row only.
CHUNK_ROWS = 500
KNOWN_COLUMNS = {"email", "external_id", "locale"}


@dataclass(frozen=True)
class RowResult:
    line: int
    email: str
    outcome: str
    contact: str = ""  # created / updated / unchanged
    detail: str = ""


@dataclass
class ImportSummary:
    counts: Counter = field(default_factory=Counter)
    rows: int = 0

    @property
    def invalid(self) -> int:
        return self.counts[ImportRowOutcome.INVALID]


class _Dry(Exception):
    """Raised to roll a dry-run chunk back."""


def _lines(stream: BinaryIO, errors: deque, on_bytes: Callable[[int], None]) -> Iterator[str]:
    """Decoded lines of `stream`; undecodable or overlong lines go to `errors` instead."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        on_bytes(len(raw))
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest without keeping it
                raw = stream.readline(MAX_LINE_BYTES)
                on_bytes(len(raw))
            errors.append((number, f"line longer than {MAX_LINE_BYTES // 1024} KiB"))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            if number == 1:
                raise ImportFileError(
                    "The file is not UTF-8 text. Save it as 'CSV UTF-8' and try again."
                ) from None
            errors.append((number, "not UTF-8 text"))
            continue
        if number == 1:
            text = text.removeprefix("\ufeff")
        yield text


def _import_row(
    *, values: dict[str, str], topic: Topic, actor: Actor, legal_basis: str, line: int
) -> RowResult:
    raw_email = values.get("email", "").strip()
    if not raw_email:
        return RowResult(line, "", ImportRowOutcome.INVALID, detail="email is empty")
    try:
        email = normalize_email(raw_email)
    except InvalidAddress as error:
        return RowResult(line, raw_email[:254], ImportRowOutcome.INVALID, detail=str(error))
    locale = values.get("locale", "").strip() or None
    if locale:
        try:
            locale = normalize_locale(locale)
        except InvalidLocale as error:
            return RowResult(line, email, ImportRowOutcome.INVALID, detail=f"locale: {error}")
    external_id = values.get("external_id", "").strip() or None
    if external_id and len(external_id) > 255:
        return RowResult(line, email, ImportRowOutcome.INVALID, detail="external_id is too long")
    attributes = {k: v for k, v in values.items() if k not in KNOWN_COLUMNS and k and v}

    if Suppression.objects.for_address(email).exists():
        # Not even created: an erased or suppressed address stays out of the database.
        return RowResult(line, email, ImportRowOutcome.KEPT_SUPPRESSED, contact="unchanged")
    contact, created = contact_get_or_create(
        email=email, external_id=external_id, locale=locale, attributes=attributes
    )
    contact_state = "created" if created else "updated"
    if not created:
        current = Subscription.objects.filter(contact=contact, topic=topic).first()
        if current is not None and current.status == SubscriptionStatus.SUBSCRIBED:
            return RowResult(
                line, email, ImportRowOutcome.ALREADY_SUBSCRIBED, contact=contact_state
            )
    try:
        subscription_subscribe(contact=contact, topic=topic, by=actor, legal_basis=legal_basis)
    except ResubscribeRequiresConfirmation:
        return RowResult(line, email, ImportRowOutcome.KEPT_UNSUBSCRIBED, contact=contact_state)
    return RowResult(line, email, ImportRowOutcome.SUBSCRIBED, contact=contact_state)


def contacts_import(
    *,
    stream: BinaryIO,
    topic: Topic,
    source: str,
    legal_basis: str = LegalBasis.CONSENT,
    dry_run: bool = False,
    on_row: Callable[[RowResult], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import every row of a CSV `stream` (bytes) into `topic`; returns the counts.

    The first non-blank line is the header and must name an `email` column; `external_id` and
    `locale` are optional, any other column becomes a merge attribute. Blank lines are skipped.
    Each row is imported or reported invalid on its own (`on_row` sees every outcome). With
    `dry_run` nothing is written. Raises ImportFileError for a file without a usable header.
    """
    if legal_basis not in LegalBasis.values:
        raise ImportFileError(f"Unknown legal basis {legal_basis!r}.")
    actor = Actor(
        source=Source.IMPORT,
        actor=f"import:{source}"[:150],
        evidence=f"import:{source} legal_basis={legal_basis}",
    )
    summary = ImportSummary()
    errors: deque = deque()
    csv.field_size_limit(MAX_LINE_BYTES)
    reader = csv.reader(_lines(stream, errors, on_bytes or (lambda n: None)))

    def emit(result: RowResult) -> None:
        summary.rows += 1
        summary.counts[result.outcome] += 1
        if result.contact in ("created", "updated"):
            summary.counts[result.contact] += 1
        if on_row is not None:
            on_row(result)

    def drain() -> None:
        while errors:
            line, detail = errors.popleft()
            emit(RowResult(line, "", ImportRowOutcome.INVALID, detail=detail))

    header = None
    rows = _rows(reader)
    for row in rows:
        drain()
        if isinstance(row, RowResult):
            if header is None:
                raise ImportFileError(f"The header line cannot be read: {row.detail}.")
            emit(row)
            continue
        header = [name.strip().lower() for name in row]
        break
    if header is not None and any("\x00" in name for name in header):
        raise ImportFileError("The header line contains a NUL byte.")
    if header is None or "email" not in header:
        raise ImportFileError(
            "Missing header: the first line must name the columns, including 'email'."
        )

    while True:
        chunk_done = False
        committed: list[RowResult] = []  # reported only once the chunk's transaction commits
        try:
            with transaction.atomic():
                for _count in range(CHUNK_ROWS):
                    row = next(rows, None)
                    while errors:
                        line, detail = errors.popleft()
                        committed.append(
                            RowResult(line, "", ImportRowOutcome.INVALID, detail=detail)
                        )
                    if row is None:
                        chunk_done = True
                        break
                    if isinstance(row, RowResult):
                        committed.append(row)
                        continue
                    committed.append(
                        _apply(row, header, reader.line_num, topic, actor, legal_basis)
                    )
                if dry_run:
                    raise _Dry
        except _Dry:
            pass  # a dry run reports what would have been committed
        for result in committed:
            emit(result)
        if chunk_done:
            break
    drain()
    return summary


def _rows(reader) -> Iterator[list[str] | RowResult]:
    """Non-blank CSV rows; a row the csv module refuses becomes an invalid RowResult."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield RowResult(
                reader.line_num, "", ImportRowOutcome.INVALID, detail=f"bad CSV: {error}"
            )
            continue
        if not any(cell.strip() for cell in row):
            continue
        yield row


def _apply(
    row: list[str], header: list[str], line: int, topic: Topic, actor: Actor, legal_basis: str
) -> RowResult:
    if len(row) > len(header):
        return RowResult(
            line,
            "",
            ImportRowOutcome.INVALID,
            detail=f"{len(row)} fields, header has {len(header)}",
        )
    values = dict(zip(header, [cell.strip() for cell in row], strict=False))
    for name, value in values.items():
        if "\x00" in value:
            # PostgreSQL cannot store NUL in text; say which cell, never echo the bytes.
            return RowResult(
                line, "", ImportRowOutcome.INVALID, detail=f"a NUL byte in column {name!r}"
            )
    try:
        with transaction.atomic():  # one savepoint per row: a refused row rolls back alone
            return _import_row(
                values=values, topic=topic, actor=actor, legal_basis=legal_basis, line=line
            )
    except IntegrityError:
        return RowResult(
            line,
            values.get("email", "")[:254],
            ImportRowOutcome.INVALID,
            detail="external_id belongs to another contact",
        )
    except DataError as error:
        detail = str(error).splitlines()[0][:200] if str(error) else "refused by the database"
        return RowResult(
            line,
            values.get("email", "")[:254],
            ImportRowOutcome.INVALID,
            detail=f"cannot store: {detail}",
        )
