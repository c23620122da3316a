"""Apply the retention rules now (the daily beat task does the same)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from ...privacy.retention import apply_retention

LABELS = {
    "unconfirmed_contacts_erased": "never-confirmed contacts erased",
    "implied_consents_lapsed": "implied (soft opt-in) consents lapsed",
    "ledger_rows_minimised": "ledger rows with IP / user agent blanked",
    "link_hits_minimised": "link opens with user agent blanked",
    "confirmation_requests_deleted": "expired confirmation requests deleted",
    "deliveries_archived": "old delivery rows archived into campaign stats",
}


class Command(BaseCommand):
    help = "Apply the retention rules; with --dry-run, only print what would change."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would change; change nothing."
        )

    def handle(self, *args, dry_run: bool = False, **options):
        report = apply_retention(dry_run=dry_run)
        verb = "would change" if dry_run else "changed"
        for name, count in report.items():
            self.stdout.write(f"{LABELS.get(name, name)}: {count} ({verb})")
