"""manage.py import_contacts FILE.csv --topic SLUG --source TEXT [--legal-basis ...] [--dry-run]
[--report FILE.csv] | --suppress --reason R | --attributes-only

The same import the API and the console run (consent.importing), run inline with a progress bar.
Exit status: 0 done, 1 done with invalid rows or failed mid-way, 2 a file or option refused.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from subscriptions.consent.importing import ImportFileError, import_run, import_start
from subscriptions.consent.ledger import Actor
from subscriptions.csv_safety import csv_writer
from subscriptions.models import Import, ImportRowError, Topic
from subscriptions.models.choices import (
    ImportMode,
    ImportRowOutcome,
    ImportStatus,
    LegalBasis,
    Source,
)

from ...consent.importing.service import LIST_REASONS

REPORT_FIELDS = ["line", "email", "outcome", "detail"]
BAD_INPUT = 2
Outcome = ImportRowOutcome


def summary(run: Import) -> str:
    """One line saying what the run did, in the words of its mode."""
    c = run.counts
    prefix = "dry run, nothing written: " if run.dry_run else ""
    invalid = f"{c.get(Outcome.INVALID, 0)} invalid"
    duplicates = f", {c[Outcome.DUPLICATE]} duplicate" if c.get(Outcome.DUPLICATE) else ""
    if run.mode == ImportMode.SUPPRESS:
        body = (
            f"{c.get(Outcome.SUPPRESSED, 0)} suppressed, {c.get(Outcome.ALREADY_SUPPRESSED, 0)} already "
            f"suppressed, {invalid}"
        )
    elif run.mode == ImportMode.ATTRIBUTES:
        body = (
            f"{c.get('updated', 0)} updated, {c.get(Outcome.UNCHANGED, 0)} "
            f"unchanged, {c.get(Outcome.NOT_FOUND, 0)} not found, {invalid}"
        )
    else:
        body = (
            f"{c.get('created', 0)} contacts created, {c.get('updated', 0)} updated, "
            f"{c.get(Outcome.SUBSCRIBED, 0)} subscribed, {c.get(Outcome.ALREADY_SUBSCRIBED, 0)} already "
            f"subscribed, {c.get(Outcome.KEPT_UNSUBSCRIBED, 0)} kept unsubscribed, "
            f"{c.get(Outcome.KEPT_SUPPRESSED, 0)} kept suppressed, {invalid}"
        )
    return f"{prefix}{run.rows} rows: {body}{duplicates}"


class Command(BaseCommand):
    help = (
        "Import contacts from a UTF-8 CSV file (header with an 'email' column; comma, "
        "semicolon or tab) and subscribe them to a topic; nobody who unsubscribed or is "
        "suppressed is subscribed again. Or add a suppression list (--suppress --reason), "
        "or update attributes of existing contacts (--attributes-only). Exits 1 when any row "
        "was invalid, 2 when the file or an option is refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--topic", help="slug of the topic to subscribe to")
        parser.add_argument("--source", required=True, help="where the list came from")
        parser.add_argument("--legal-basis", default=LegalBasis.CONSENT, choices=LegalBasis.values)
        parser.add_argument("--dry-run", action="store_true", help="report, change nothing")
        parser.add_argument("--report", help="write the per-row report to this CSV file")
        modes = parser.add_mutually_exclusive_group()
        modes.add_argument(
            "--suppress",
            action="store_true",
            help="add every address to the suppression list (only hashes are stored)",
        )
        modes.add_argument(
            "--attributes-only",
            action="store_true",
            help="update locale, external_id and attributes of existing contacts only",
        )
        parser.add_argument("--reason", choices=LIST_REASONS, help="why (with --suppress)")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        mode = (
            ImportMode.SUPPRESS
            if options["suppress"]
            else ImportMode.ATTRIBUTES
            if options["attributes_only"]
            else ImportMode.SUBSCRIBE
        )
        topic = self._topic(options["topic"]) if mode == ImportMode.SUBSCRIBE else None
        path = options["file"]
        try:
            stream = open(path, "rb")  # noqa: SIM115 (closed below)
        except OSError as error:
            raise CommandError(
                f"Cannot open {path}: {error.strerror}.", returncode=BAD_INPUT
            ) from None
        with stream:
            try:
                run = import_start(
                    file=stream,
                    filename=path,
                    mode=mode,
                    topic=topic,
                    source=options["source"],
                    legal_basis=options["legal_basis"],
                    reason=options["reason"] or "",
                    actor=Actor(source=Source.IMPORT, actor=f"import:{options['source']}"),
                    dry_run=options["dry_run"],
                    run_async=False,
                )
            except ImportFileError as error:
                raise CommandError(str(error), returncode=BAD_INPUT) from None
        bar = tqdm(
            total=run.size_bytes,
            unit="B",
            unit_scale=True,
            file=sys.stderr,
            disable=options["no_progress"],
            desc="import",
        )

        def progress(current: Import) -> None:
            bar.update(current.bytes_done - bar.n)
            bar.set_postfix(rows=current.rows, refresh=False)

        try:
            run = import_run(run.pk, progress=progress)
        finally:
            bar.close()
        if options["report"]:
            self._report(run, options["report"])
        self.stdout.write(summary(run))
        if run.status == ImportStatus.FAILED:
            raise CommandError(run.error)
        invalid = run.counts.get(Outcome.INVALID, 0)
        if invalid:
            raise CommandError(f"{invalid} rows were invalid and not imported.")

    def _topic(self, slug: str | None) -> Topic:
        if not slug:
            raise CommandError(
                "Name the topic with --topic SLUG (or use --suppress or --attributes-only).",
                returncode=BAD_INPUT,
            )
        try:
            return Topic.objects.get(slug=slug)
        except Topic.DoesNotExist:
            known = ", ".join(Topic.objects.values_list("slug", flat=True)[:20]) or "none"
            raise CommandError(
                f"Unknown topic {slug!r}. Known topics: {known}.", returncode=BAD_INPUT
            ) from None

    def _report(self, run: Import, path: str) -> None:
        rows = (
            ImportRowError.objects.filter(run=run)
            .order_by("line")
            .values_list("line", "email", "outcome", "detail")
        )
        with open(path, "w", newline="") as file:
            report = csv_writer(file)
            report.writerow(REPORT_FIELDS)
            for row in rows.iterator(chunk_size=5000):
                report.writerow(row)
