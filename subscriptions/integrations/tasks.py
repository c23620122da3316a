"""Tasks of outbound webhooks, on the `webhooks` queue (served by the transactional workers).

Adapters: claim, call the service, schedule the follow-up. A task works at most about a second
on the deliveries it claimed (one hanging receiver: its 5-second limit), gives the rest back
and queues another task, so a burst of events never holds a worker that also sends password
resets.
"""

from __future__ import annotations

import time

from celery import shared_task

from .webhooks import (
    deliveries_claim,
    deliveries_due_exist,
    deliveries_release,
    delivery_attempt,
    webhooks_sweep,
)

DELIVERIES_PER_TASK = 5
TASK_BUDGET_SECONDS = 1.0
# A retry further away than this is left to the beat sweep (a broker's visibility timeout
# re-delivers long countdowns early).
COUNTDOWN_LIMIT_SECONDS = 600
# Tasks the sweep queues at most, however much is due: each queues its successor.
SWEEP_KICKS = 4


@shared_task(name="subscriptions.tasks.webhooks.deliver_webhooks", ignore_result=True)
def deliver_webhooks() -> int:
    """Attempt a few due deliveries; queue a successor while more are due. Returns how many
    were attempted."""
    started = time.monotonic()
    claimed = deliveries_claim(limit=DELIVERIES_PER_TASK)
    attempted = 0
    for delivery_id in claimed:
        if time.monotonic() - started > TASK_BUDGET_SECONDS:
            deliveries_release(claimed[attempted:])
            break
        retry_at = delivery_attempt(delivery_id)
        attempted += 1
        if retry_at is not None:
            wait = max(0.0, retry_at.timestamp() - time.time())
            if wait <= COUNTDOWN_LIMIT_SECONDS:
                deliver_webhooks.apply_async(countdown=wait)
    if claimed and deliveries_due_exist():
        deliver_webhooks.delay()
    return attempted


@shared_task(name="subscriptions.tasks.webhooks.sweep_webhooks", ignore_result=True)
def sweep_webhooks() -> int:
    """Beat: give up what is past 24 hours and kick delivery of whatever is due (nothing is lost
    when the broker or a worker was down when an event was written)."""
    due = webhooks_sweep()
    for _ in range(min(due, SWEEP_KICKS)):
        deliver_webhooks.delay()
    return due
