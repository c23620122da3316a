"""The Celery app `prefcenter`.

Two queues keep the two mail streams apart: `marketing` (campaign batches, which may hold a
backlog of millions) and `transactional` (confirmations, receipts, notices), served by their own
workers so a password reset never waits behind a campaign.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prefcenter.settings")

app = Celery("prefcenter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("marketing"), Queue("transactional"))
app.conf.task_default_queue = "marketing"
app.conf.task_routes = {
    "subscriptions.tasks.transactional.*": {"queue": "transactional"},
    "subscriptions.tasks.marketing.*": {"queue": "marketing"},
}
app.autodiscover_tasks()
