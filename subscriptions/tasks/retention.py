"""Thin Celery adapters for retention (run daily by beat)."""

from __future__ import annotations

from celery import shared_task

from .. import retention


@shared_task(name="subscriptions.tasks.retention.apply_retention", acks_late=True)
def apply_retention() -> dict:
    return retention.apply_retention()
