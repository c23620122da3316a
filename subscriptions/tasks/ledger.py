"""Thin Celery adapter sealing the consent ledger (run by beat every few minutes)."""

from __future__ import annotations

from celery import shared_task

from .. import ledger


@shared_task(name="subscriptions.tasks.ledger.checkpoint_ledger", acks_late=True)
def checkpoint_ledger() -> int | None:
    checkpoint = ledger.ledger_checkpoint()
    return checkpoint.pk if checkpoint else None
