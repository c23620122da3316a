"""The Celery app `prefcenter`.

Two queues keep the two mail streams apart: `marketing` (campaign batches, which may hold a
backlog of millions) and `transactional` (confirmations, receipts, notices), served by their own
workers so a password reset never waits behind a campaign. A third, `webhooks`, carries outbound
webhook deliveries; DESIGN's transactional worker consumes it (`-Q transactional,webhooks`).
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prefcenter.settings")

app = Celery("prefcenter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("marketing"), Queue("transactional"), Queue("webhooks"))
app.conf.task_default_queue = "marketing"
app.conf.task_routes = {
    "subscriptions.tasks.transactional.*": {"queue": "transactional"},
    "subscriptions.tasks.public_forms.*": {"queue": "transactional"},
    "subscriptions.tasks.marketing.*": {"queue": "marketing"},
    "subscriptions.tasks.webhooks.*": {"queue": "webhooks"},
}

# Each domain package keeps its tasks in its own tasks.py; task names predate the packages and
# stay as they were, so queued tasks and beat entries keep working across upgrades.
app.autodiscover_tasks(
    [
        "subscriptions.consent",
        "subscriptions.campaigns",
        "subscriptions.privacy",
        "subscriptions.mail",
        "subscriptions.integrations",
    ]
)

# The beat schedule is CELERY_BEAT_SCHEDULE in prefcenter/settings.py, read with the rest of the
# CELERY_* settings above: one place lists every periodic task.
