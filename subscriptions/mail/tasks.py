"""Thin Celery adapters for the transactional queue."""

from __future__ import annotations

from celery import shared_task

from . import transactional


@shared_task(
    name="subscriptions.tasks.transactional.deliver_transactional",
    acks_late=True,
    autoretry_for=(ConnectionError, TimeoutError, OSError),
    retry_backoff=True,
    max_retries=8,
)
def deliver_transactional(message_id: int) -> bool:
    return transactional.deliver(message_id)


@shared_task(name="subscriptions.tasks.transactional.requeue_transactional")
def requeue_transactional() -> int:
    return transactional.requeue_stale()
