"""Exports: a topic's subscribers, or any set of them (a segment), as a CSV streamed row by row.

The rows come from a server-side cursor in chunks and leave as CSV text chunk by chunk, so a
million subscribers take the memory of one chunk. Every cell goes through the product's one CSV
writer (csv_safety): an address or attribute starting `= + - @` is never run as a formula.
An erased contact, or one merged into another spelling of its address, is never exported.
Each export is logged (who, what), and again with its row count when the stream ends.
"""

from __future__ import annotations

import datetime
import io
import logging
from collections.abc import Iterable, Iterator

from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.text import slugify

from ..csv_safety import csv_writer
from ..models import ConsentEvent, Contact, Import, ImportRowError, Subscription, Topic
from ..models.choices import SubscriptionStatus

log = logging.getLogger(__name__)

EXPORT_COLUMNS = (
    "email",
    "external_id",
    "locale",
    "status",
    "legal_basis",
    "consented_at",
    "source",
    "frequency",
)
REPORT_COLUMNS = ("line", "outcome", "email", "detail")
# Rows per round trip of the server-side cursor, and per piece of the streamed answer.
EXPORT_CHUNK_ROWS = 2000
# What `status` may ask for: one standing, or every standing on the topic.
EXPORT_ALL = "all"
EXPORT_STATUSES = (*SubscriptionStatus.values, EXPORT_ALL)


def topic_subscriptions(
    topic: Topic, *, status: str = SubscriptionStatus.SUBSCRIBED
) -> QuerySet[Subscription]:
    """The subscriptions of `topic` an export covers: of one standing (subscribers by default),
    or every standing with `status="all"`; never an erased or merged contact's."""
    if status not in EXPORT_STATUSES:
        raise ValueError(f"Unknown status {status!r}: one of {', '.join(EXPORT_STATUSES)}.")
    subscriptions = Subscription.objects.filter(topic=topic)
    if status != EXPORT_ALL:
        subscriptions = subscriptions.filter(status=status)
    return subscriptions


def segment_subscriptions(
    contacts: QuerySet[Contact], *, topic: Topic, status: str = SubscriptionStatus.SUBSCRIBED
) -> QuerySet[Subscription]:
    """`topic_subscriptions` narrowed to `contacts` (a segment's QuerySet), in one statement."""
    return topic_subscriptions(topic, status=status).filter(contact__in=contacts.values("pk"))


def subscribers_export(
    *, subscriptions: QuerySet[Subscription], exported_by: str, what: str
) -> Iterator[str]:
    """The CSV of `subscriptions` (header first), as text pieces to stream.

    `exported_by` (a staff username, "api:<key>") and `what` (e.g. "topic news, subscribed")
    go to the audit log when the export starts, and with the row count when it ends.
    """
    log.info("export started: %s exports subscribers (%s)", exported_by, what)
    return _stream(
        _export_rows(subscriptions),
        columns=EXPORT_COLUMNS,
        noun="subscribers",
        exported_by=exported_by,
        what=what,
    )


def import_report_export(*, run: Import, exported_by: str) -> Iterator[str]:
    """The per-row report of an import run (every ImportRowError, in line order) as CSV text
    pieces to stream. Addresses appear only where the run kept them (never for a suppression
    list or a suppressed address)."""
    what = f"import {run.pk}"
    log.info("export started: %s exports the report of %s", exported_by, what)
    return _stream(
        _report_rows(run),
        columns=REPORT_COLUMNS,
        noun="report rows",
        exported_by=exported_by,
        what=what,
    )


def _report_rows(run: Import) -> Iterator[tuple]:
    with transaction.atomic():  # no HOLD: rows as PostgreSQL finds them (see _export_rows)
        yield from (
            ImportRowError.objects.filter(run=run)
            .order_by("line", "pk")
            .values_list("line", "outcome", "email", "detail")
            .iterator(chunk_size=EXPORT_CHUNK_ROWS)
        )


def export_filename(
    topic: Topic, *, status: str = SubscriptionStatus.SUBSCRIBED, segment_name: str = ""
) -> str:
    today = timezone.now().strftime("%Y-%m-%d")
    standing = "subscribers" if status == SubscriptionStatus.SUBSCRIBED else status
    narrowed = f"-{slugify(segment_name)[:40]}" if segment_name else ""
    return f"{topic.slug}{narrowed}-{standing}-{today}.csv"


def _export_rows(subscriptions: QuerySet[Subscription]) -> Iterator[tuple]:
    # The ledger row that put the subscription in its present standing: the contact's latest
    # event on the topic with that new status (found through the ledger's per-contact index).
    source = (
        ConsentEvent.objects.filter(
            contact=OuterRef("contact"), topic=OuterRef("topic"), new_status=OuterRef("status")
        )
        .order_by("-id")
        .values("source")[:1]
    )
    rows = (
        subscriptions.filter(contact__erased_at__isnull=True, contact__merged_into__isnull=True)
        .exclude(contact__email="")
        .annotate(source=Subquery(source))
        .order_by("pk")
        .values_list(
            "contact__email",
            "contact__external_id",
            "contact__locale",
            "status",
            "legal_basis",
            "consented_at",
            "source",
            "frequency",
        )
    )
    # Inside a transaction the server-side cursor is declared without HOLD, so PostgreSQL hands
    # rows over as it finds them; outside one it would build the whole result before the first.
    with transaction.atomic():
        for (
            email,
            external_id,
            locale,
            status,
            basis,
            consented_at,
            source,
            frequency,
        ) in rows.iterator(chunk_size=EXPORT_CHUNK_ROWS):
            yield (
                email,
                external_id or "",
                locale,
                status,
                basis,
                _iso(consented_at),
                source or "",
                frequency,
            )


def _iso(moment: datetime.datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _stream(
    rows: Iterable[tuple], *, columns: tuple[str, ...], noun: str, exported_by: str, what: str
) -> Iterator[str]:
    """CSV text, EXPORT_CHUNK_ROWS rows a piece; the end (or an abandoned download) is logged."""
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(columns)
    written = 0
    finished = False
    try:
        for row in rows:
            writer.writerow(row)
            written += 1
            if written % EXPORT_CHUNK_ROWS == 0:
                yield _drain(buffer)
        yield _drain(buffer)
        finished = True
    finally:
        log.info(
            "export %s: %s exported %d %s (%s)",
            "finished" if finished else "interrupted",
            exported_by,
            written,
            noun,
            what,
        )


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
