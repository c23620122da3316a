"""Thin Celery adapters for privacy work: policy-change notices."""

from __future__ import annotations

from celery import shared_task

from .. import policy
from ..models import PolicyVersion


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
