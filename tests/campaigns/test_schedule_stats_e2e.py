"""End to end (issue 11 bars): a campaign scheduled through the admin form starts on time under
a real `celery beat` and worker; a one-click through a campaign's own link counts in its
`stats.unsubscribed` as the API reports it. The worker-start helpers are copied from
test_sending_e2e.py (kept independent of it)."""

from __future__ import annotations

import datetime
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from prefcenter.celery import app
from subscriptions.campaigns.lifecycle import campaign_start
from subscriptions.models import Campaign, ConsentEvent
from subscriptions.models.choices import CampaignStatus
from tests.sending_factories import CampaignFactory, subscribers
from tests.support.database import database_url as role_database_url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


@pytest.fixture
def celery_processes(smtp, transactional_db, tmp_path):
    """Start `celery worker` / `celery beat` processes on the test database; kill at the end."""
    port, _sink = smtp
    app.control.purge()
    started: list[subprocess.Popen] = []
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prefcenter.test_settings",
        # The workers run as the app role, like the web app and the tests' own connection.
        "DATABASE_URL": role_database_url("app"),
        "MARKETING_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "TRANSACTIONAL_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "CELERY_BEAT_SCHEDULE_SECONDS": "5",
        "CELERY_BEAT_SCHEDULE_FILENAME": str(tmp_path / "celerybeat-schedule"),
    }

    def start(*args: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [CELERY, "-A", "prefcenter", *args, "-l", "WARNING"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        started.append(process)
        return process

    def worker(queue: str = "marketing") -> subprocess.Popen:
        return start(
            "worker",
            "-Q",
            queue,
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        )

    def beat() -> subprocess.Popen:
        return start("beat")

    start.worker = worker
    start.beat = beat
    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    app.control.purge()


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def campaign_row(campaign) -> Campaign:
    return Campaign.objects.get(pk=campaign.pk)


def test_a_campaign_scheduled_in_the_admin_form_starts_within_a_minute(
    celery_processes, smtp, topic, admin_client
):
    _port, sink = smtp
    audience = subscribers(topic, 3)
    campaign = CampaignFactory(topic=topic)
    at = (timezone.now() + datetime.timedelta(seconds=20)).replace(microsecond=0)
    local = timezone.localtime(at)
    celery_processes.worker()
    celery_processes.beat()

    response = admin_client.post(
        reverse("admin:subscriptions_campaign_change", args=[campaign.pk]),
        {
            "name": campaign.name,
            "topic": topic.pk,
            "subject": campaign.subject,
            "from_email": "",
            "html_body": campaign.html_body,
            "text_body": campaign.text_body,
            "scheduled_at_0": f"{local:%Y-%m-%d}",
            "scheduled_at_1": f"{local:%H:%M:%S}",
        },
    )

    assert response.status_code == 302, response.text
    assert campaign_row(campaign).status == CampaignStatus.SCHEDULED
    # Not before its time...
    time.sleep(max(0.0, (at - timezone.now()).total_seconds() - 3))
    assert campaign_row(campaign).status == CampaignStatus.SCHEDULED
    # ...and within a minute of it (beat sweeps every 5 s here, every 60 s by default).
    wait_for(
        lambda: campaign_row(campaign).status == CampaignStatus.SENT,
        90,
        "the scheduled campaign to be sent",
    )
    started_at = campaign_row(campaign).started_at
    assert at <= started_at <= at + datetime.timedelta(seconds=60)
    wait_for(lambda: len(sink.messages()) == 3, 10, "the mail to arrive")
    assert sorted(rcpt for rcpt, _ in sink.messages()) == sorted(c.email for c in audience)


def test_a_one_click_through_a_campaigns_link_counts_in_its_stats(
    celery_processes, smtp, topic, api
):
    _port, sink = smtp
    subscribers(topic, 3)
    campaign = CampaignFactory(topic=topic)
    celery_processes.worker()

    campaign_start(campaign=campaign)
    wait_for(
        lambda: campaign_row(campaign).status == CampaignStatus.SENT, 60, "the campaign to finish"
    )
    wait_for(lambda: len(sink.messages()) == 3, 10, "the mail to arrive")
    recipient, raw = sink.messages()[0]
    header = re.search(rb"List-Unsubscribe:\s*<(https?://[^>]+)>", raw)
    assert header, raw[:2000]
    # A long header may come folded: the URL has no whitespace of its own.
    path = urlsplit(re.sub(r"\s+", "", header.group(1).decode())).path
    api_url = f"/api/v1/campaigns/{campaign.pk}/"
    assert api.get(api_url).json()["stats"]["unsubscribed"] == 0

    # What a mailbox provider does with the List-Unsubscribe-Post header: no cookie, no CSRF.
    response = Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"})
    # A second provider retry changes nothing and counts nothing twice.
    Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    event = ConsentEvent.objects.get(contact__email=recipient, action="unsubscribed")
    assert (event.source, event.campaign_id) == ("one_click", campaign.pk)
    assert api.get(api_url).json()["stats"]["unsubscribed"] == 1
