"""Prove the consent ledger: recompute every hash chain and checkpoint, report every break."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from subscriptions.models import ConsentEvent, LedgerCheckpoint

from ...consent.ledger import ledger_checkpoint, ledger_verify
from ..database_roles import database_role_warnings


class Command(BaseCommand):
    help = (
        "Recompute the consent ledger's hash chains and checkpoints and report every break "
        "(row altered, deleted, inserted out of order or back-dated); exits 1 on any break."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
        parser.add_argument(
            "--checkpoint",
            action="store_true",
            help="First seal the rows written since the last checkpoint (as the beat task does).",
        )

    def handle(self, *args, no_progress: bool = False, checkpoint: bool = False, **options):
        for warning in database_role_warnings():
            self.stderr.write(f"warning: {warning}")
        if checkpoint:
            ledger_checkpoint()
        rows = ConsentEvent.objects.count()
        # Every row is read once for its chain and once more for its checkpoint.
        sealed = sum(LedgerCheckpoint.objects.values_list("row_count", flat=True))
        bar = tqdm(
            total=rows + sealed, unit="row", file=sys.stderr, disable=no_progress, leave=False
        )
        with bar:
            breaks = ledger_verify(progress=bar.update)
        for found in breaks:
            self.stdout.write(str(found))
        checkpoints = LedgerCheckpoint.objects.count()
        if breaks:
            raise CommandError(f"the consent ledger is broken in {len(breaks)} places")
        self.stdout.write(
            self.style.SUCCESS(f"ledger intact: {rows} rows, {checkpoints} checkpoints verified")
        )
