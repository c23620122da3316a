"""Thin Celery adapters for privacy work: policy-change notices and the daily retention run."""

from __future__ import annotations

from celery import shared_task

from ..models import PolicyVersion
from . import policy, retention


@shared_task(
    name="subscriptions.tasks.privacy.send_policy_notices",
    acks_late=True,
    autoretry_for=(ConnectionError, TimeoutError, OSError),
    retry_backoff=True,
    max_retries=8,
)
def send_policy_notices(policy_id: int) -> int:
    version = PolicyVersion.objects.filter(pk=policy_id).first()
    if version is None or version.notices_finished_at is not None:
        return 0
    return policy.policy_send_notices(policy=version)


# Run daily by beat.
@shared_task(name="subscriptions.tasks.retention.apply_retention", acks_late=True)
def apply_retention() -> dict:
    return retention.apply_retention()
