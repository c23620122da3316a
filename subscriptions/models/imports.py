"""One run of an import file, its per-row report, and the file itself while it waits.

The file is kept in the database (ImportFileChunk), not on a local disk, so any worker host can
run the import; its chunks are deleted when the run ends. The per-row report (ImportRowError)
never holds an address in suppression-list mode, nor the address of a suppressed row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import ImportMode, ImportRowOutcome, ImportStatus, LegalBasis, SuppressionReason
from .contacts import Topic

# An import counts as running (one per topic at a time) while in these states.
ACTIVE_IMPORT_STATUSES = (ImportStatus.QUEUED, ImportStatus.RUNNING)


class Import(models.Model):
    """One run of a CSV file through the import pipeline: the API's /imports/{id}."""

    status = models.CharField(max_length=20, choices=ImportStatus, default=ImportStatus.QUEUED)
    mode = models.CharField(max_length=20, choices=ImportMode, default=ImportMode.SUBSCRIBE)
    # The topic subscribed to (subscribe mode only).
    topic = models.ForeignKey(
        Topic, null=True, blank=True, on_delete=models.PROTECT, related_name="imports"
    )
    source = models.CharField(_("source"), max_length=140)
    legal_basis = models.CharField(max_length=20, choices=LegalBasis, default=LegalBasis.CONSENT)
    # Suppression-list mode: the reason every listed address is suppressed for.
    reason = models.CharField(max_length=30, choices=SuppressionReason, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    # Progress: bytes of the file read and rows committed so far (a committed chunk at a time).
    bytes_done = models.BigIntegerField(default=0)
    rows = models.BigIntegerField(default=0)
    # Every line up to this one is in the database; nothing after it was written (0: none yet).
    committed_through_line = models.BigIntegerField(default=0)
    # ImportRowOutcome value (and "created" / "updated" for contacts) -> number of rows.
    counts = models.JSONField(default=dict, blank=True)
    # Why the run failed, in words a person can act on.
    error = models.TextField(blank=True)
    dry_run = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]
        constraints = [
            # Two runs into one topic at once would race on the same subscriptions.
            models.UniqueConstraint(
                fields=["topic"],
                condition=Q(status__in=ACTIVE_IMPORT_STATUSES, dry_run=False),
                name="one_active_import_per_topic",
            ),
        ]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.filename or self.mode}): {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)


class ImportRowError(models.Model):
    """One row of the per-row report: a row that was not imported as written, and why.

    `email` is kept only where the address is one the product holds anyway (an invalid value
    as typed, an existing contact's row); never in suppression-list mode, never for a
    suppressed or erased address.
    """

    run = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="row_errors")
    line = models.BigIntegerField()
    outcome = models.CharField(
        max_length=20, choices=ImportRowOutcome, default=ImportRowOutcome.INVALID
    )
    email = models.CharField(max_length=254, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        verbose_name = _("import row report")
        verbose_name_plural = _("import row reports")
        ordering = ["run", "line"]
        indexes = [models.Index(fields=["run", "line"], name="importrowerror_line_idx")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.outcome} {self.detail}"


class ImportFileChunk(models.Model):
    """A piece of an uploaded file waiting for its run, readable from any worker host."""

    run = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="file_chunks")
    position = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="one_file_chunk_per_position")
        ]

    def __str__(self) -> str:
        return f"import {self.run_id}, piece {self.position}"
