"""The import's two public services: start (check, store, queue) and run."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO

from celery import current_app
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ...models import Import, ImportFileChunk, Topic
from ...models.choices import ImportMode, ImportStatus, LegalBasis, SuppressionReason
from ...models.imports import ACTIVE_IMPORT_STATUSES
from ..ledger import Actor
from .errors import ImportAlreadyRunning, ImportFileError
from .pipeline import pipeline_run
from .reading import MAX_LINE_BYTES, header_check

TASK_NAME = "subscriptions.tasks.import_run"
# pg_advisory_lock(key1, import id): held by the session running an import, for its whole run,
# so a run whose worker died is told from a live one.
RUN_LOCK = 1_229_804_628
QUEUE = "marketing"
# Stored file pieces: big enough to be few rows, small enough to hold one in memory.
FILE_CHUNK_BYTES = 1024 * 1024
# Largest file accepted (about 10 million rows of a typical export).
MAX_FILE_BYTES = 1024 * 1024 * 1024
# Reasons a suppression list may carry: erasure is the person's own request, never a list's.
LIST_REASONS = tuple(r for r in SuppressionReason.values if r != SuppressionReason.ERASED)


def _options_check(
    *, mode: str, topic: Topic | None, legal_basis: str, reason: str, source: str
) -> None:
    if mode not in ImportMode.values:
        raise ImportFileError(f"Unknown mode {mode!r}; one of {', '.join(ImportMode.values)}.")
    if not (source or "").strip():
        raise ImportFileError("Say where the list came from (source).")
    if mode == ImportMode.SUBSCRIBE:
        if topic is None:
            raise ImportFileError("Name the topic to subscribe the list to.")
        if legal_basis not in LegalBasis.values:
            raise ImportFileError(
                f"Unknown legal basis {legal_basis!r}; one of {', '.join(LegalBasis.values)}."
            )
    if mode == ImportMode.SUPPRESS and reason not in LIST_REASONS:
        raise ImportFileError(
            f"A suppression list needs a reason, one of {', '.join(LIST_REASONS)}."
        )


def _runner_lock(cursor, import_id: int) -> bool:
    """Take the session lock a live run holds; False when a live run holds it already."""
    cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [RUN_LOCK, import_id])
    return cursor.fetchone()[0]


def _runner_unlock(cursor, import_id: int) -> None:
    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK, import_id])


def _stale_fail(run: Import) -> bool:
    """Mark a `running` import whose runner is gone (its session lock is free) as failed."""
    if run.status != ImportStatus.RUNNING or connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        if not _runner_lock(cursor, run.pk):
            return False
        _runner_unlock(cursor, run.pk)
    ImportFileChunk.objects.filter(run_id=run.pk).delete()
    return bool(
        Import.objects.filter(pk=run.pk, status=ImportStatus.RUNNING).update(
            status=ImportStatus.FAILED,
            finished_at=timezone.now(),
            error=(
                "The worker running this import stopped. Every row up to line "
                f"{run.committed_through_line} is imported; import the file again for the rest "
                "(rows already in change nothing)."
            ),
        )
    )


def _running_check(topic: Topic | None) -> None:
    if topic is None:
        return
    running = Import.objects.filter(
        topic=topic, status__in=ACTIVE_IMPORT_STATUSES, dry_run=False
    ).first()
    if running is not None and not _stale_fail(running):
        raise ImportAlreadyRunning(
            f"Import {running.pk} into topic {topic.slug!r} is still {running.status}; "
            "start this one when it has finished."
        )


def import_start(
    *,
    file: BinaryIO,
    filename: str,
    mode: str,
    topic: Topic | None,
    source: str,
    legal_basis: str = LegalBasis.CONSENT,
    reason: str = "",
    actor: Actor,
    dry_run: bool = False,
    run_async: bool = True,
) -> Import:
    """Check the file's header and the options, store the file, create the Import (queued).

    Raises ImportFileError with a message a person can act on (encoding, no email column, too
    many columns, unknown mode or reason, a second import of the same topic while one runs, a
    file too big); then nothing is stored. The file is kept in the database (any worker host
    can read it) until its run ends. With `run_async` the run is queued once this transaction
    commits; otherwise the caller runs `import_run` itself.
    """
    _options_check(mode=mode, topic=topic, legal_basis=legal_basis, reason=reason, source=source)
    head = file.read(MAX_LINE_BYTES + 1)
    header_check(head)
    if mode != ImportMode.SUBSCRIBE:
        topic = None
    staff = actor.staff_user if getattr(actor.staff_user, "pk", None) else None
    try:
        with transaction.atomic():
            if not dry_run:
                _running_check(topic)
            run = Import.objects.create(
                mode=mode,
                topic=topic,
                source=source.strip()[:140],
                legal_basis=legal_basis if mode == ImportMode.SUBSCRIBE else LegalBasis.CONSENT,
                reason=reason if mode == ImportMode.SUPPRESS else "",
                filename=(filename or "")[:255],
                dry_run=dry_run,
                created_by=staff,
            )
            size = _file_store(run, head, file)
            run.size_bytes = size
            run.save(update_fields=["size_bytes"])
            if run_async:
                transaction.on_commit(lambda: import_enqueue(run.pk))
    except IntegrityError:  # another import of the topic started between check and insert
        _running_check(topic)
        raise
    return run


def _file_store(run: Import, head: bytes, file: BinaryIO) -> int:
    size, position, piece = 0, 0, head
    while True:
        piece += file.read(FILE_CHUNK_BYTES - len(piece)) if len(piece) < FILE_CHUNK_BYTES else b""
        if not piece:
            return size
        size += len(piece)
        if size > MAX_FILE_BYTES:
            raise ImportFileError(
                f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it."
            )
        ImportFileChunk.objects.create(run=run, position=position, data=piece)
        position += 1
        piece = b""


def import_enqueue(import_id: int) -> None:
    """Queue the run of a stored import on the marketing queue (by task name: no import)."""
    current_app.send_task(TASK_NAME, kwargs={"import_id": import_id}, queue=QUEUE)


class StoredFile(io.RawIOBase):
    """The stored pieces of an import's file read back in order, one piece in memory."""

    def __init__(self, run: Import):
        self._run = run
        self._position = 0
        self._piece = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self._piece:
            data = (
                ImportFileChunk.objects.filter(run=self._run, position=self._position)
                .values_list("data", flat=True)
                .first()
            )
            if data is None:
                return 0
            self._position += 1
            self._piece = memoryview(bytes(data))
        size = min(len(buffer), len(self._piece))
        buffer[:size] = self._piece[:size]
        self._piece = self._piece[size:]
        return size


def import_run(import_id: int, *, progress: Callable[[Import], None] | None = None) -> Import:
    """Run a queued import to its end; return it done or failed.

    Idempotent for a retried task: an import that is not queued any more is returned as it is.
    Each chunk of rows commits on its own with its counts and report rows, so progress and the
    report always match what is in the database; a failure leaves every committed chunk in and
    says from which line nothing was written (Import.error, committed_through_line).
    """
    claimed = Import.objects.filter(pk=import_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=timezone.now()
    )
    run = Import.objects.get(pk=import_id)
    if not claimed:
        return run
    try:
        pipeline_run(run, io.BufferedReader(StoredFile(run), FILE_CHUNK_BYTES), progress=progress)
    finally:
        ImportFileChunk.objects.filter(run=run).delete()
    return run
