"""manage.py import_contacts FILE.csv --topic SLUG --source TEXT [--legal-basis ...] [--dry-run]"""

from __future__ import annotations

import os
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from subscriptions.csv_safety import csv_writer
from subscriptions.models import Topic
from subscriptions.models.choices import ImportRowOutcome, LegalBasis

from ...consent.importing import ImportFileError, RowResult, contacts_import

REPORT_FIELDS = ["line", "email", "outcome", "contact", "detail"]


class Command(BaseCommand):
    help = (
        "Import contacts from a UTF-8 CSV file (header with an 'email' column) and subscribe "
        "them to a topic; nobody who unsubscribed or is suppressed is subscribed again. "
        "Exits non-zero when any row was invalid."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--topic", required=True, help="slug of the topic to subscribe to")
        parser.add_argument("--source", required=True, help="where the list came from")
        parser.add_argument("--legal-basis", default=LegalBasis.CONSENT, choices=LegalBasis.values)
        parser.add_argument("--dry-run", action="store_true", help="report, change nothing")
        parser.add_argument("--report", help="write the per-row report to this CSV file")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        try:
            topic = Topic.objects.get(slug=options["topic"])
        except Topic.DoesNotExist:
            known = ", ".join(Topic.objects.values_list("slug", flat=True)[:20]) or "none"
            raise CommandError(
                f"Unknown topic {options['topic']!r}. Known topics: {known}."
            ) from None
        path = options["file"]
        try:
            stream = open(path, "rb")  # noqa: SIM115 (closed below)
        except OSError as error:
            raise CommandError(f"Cannot open {path}: {error.strerror}.") from None
        report_file = open(options["report"], "w", newline="") if options["report"] else None  # noqa: SIM115
        report = csv_writer(report_file) if report_file else None
        if report:
            report.writerow(REPORT_FIELDS)
        bar = tqdm(
            total=os.path.getsize(path),
            unit="B",
            unit_scale=True,
            file=sys.stderr,
            disable=options["no_progress"],
            desc="import",
        )

        def on_row(result: RowResult) -> None:
            if report:
                report.writerow([getattr(result, name) for name in REPORT_FIELDS])
            if result.outcome == ImportRowOutcome.INVALID:
                bar.write(f"line {result.line}: invalid: {result.detail}", file=sys.stderr)

        try:
            summary = contacts_import(
                stream=stream,
                topic=topic,
                source=options["source"],
                legal_basis=options["legal_basis"],
                dry_run=options["dry_run"],
                on_row=on_row,
                on_bytes=bar.update,
            )
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        finally:
            bar.close()
            stream.close()
            if report_file:
                report_file.close()

        prefix = "dry run, nothing written: " if options["dry_run"] else ""
        counts = summary.counts
        self.stdout.write(
            f"{prefix}{summary.rows} rows: {counts['created']} contacts created, "
            f"{counts['updated']} updated, {counts[ImportRowOutcome.SUBSCRIBED]} subscribed, "
            f"{counts[ImportRowOutcome.ALREADY_SUBSCRIBED]} already subscribed, "
            f"{counts[ImportRowOutcome.KEPT_UNSUBSCRIBED]} kept unsubscribed, "
            f"{counts[ImportRowOutcome.KEPT_SUPPRESSED]} kept suppressed, {summary.invalid} invalid"
        )
        if summary.invalid:
            raise CommandError(f"{summary.invalid} rows were invalid and not imported.")
