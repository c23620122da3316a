"""End to end: a chosen frequency is kept by real `celery -A prefcenter worker` processes sending
to a real SMTP sink (DESIGN rule 8, issue 11)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prefcenter.celery import app
from subscriptions.campaigns.audience import campaign_build_audience
from subscriptions.campaigns.lifecycle import campaign_start
from subscriptions.campaigns.stats import campaign_stats
from subscriptions.models import Delivery
from subscriptions.models.choices import CampaignStatus, SkipReason
from tests.factories import ContactFactory, SubscriptionFactory, TopicFactory
from tests.sending_factories import CampaignFactory
from tests.support.database import database_url as role_database_url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


@pytest.fixture
def workers(smtp, transactional_db):
    """Start marketing workers on the test database; kill them at the end."""
    port, _sink = smtp
    app.control.purge()
    started: list[subprocess.Popen] = []
    database_url = role_database_url("app")

    def start() -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "prefcenter.test_settings",
            "DATABASE_URL": database_url,
            "MARKETING_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
            "LOG_LEVEL": "WARNING",
        }
        process = subprocess.Popen(
            [
                CELERY,
                "-A",
                "prefcenter",
                "worker",
                "-Q",
                "marketing",
                "--pool=solo",
                "-l",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    app.control.purge()


def wait_until_sent(campaign, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        campaign.refresh_from_db()
        if campaign.status == CampaignStatus.SENT:
            return
        time.sleep(0.1)
    raise AssertionError(f"campaign {campaign.pk} still {campaign.status} after {timeout} s")


@pytest.fixture
def readers(db):
    """A topic offering every frequency, one reader on `weekly` and one on `immediate`."""
    topic = TopicFactory(slug="news", frequencies=["immediate", "daily", "weekly", "monthly"])
    weekly = ContactFactory(email="weekly@example.com")
    SubscriptionFactory(contact=weekly, topic=topic, frequency="weekly")
    immediate = ContactFactory(email="immediate@example.com")
    SubscriptionFactory(contact=immediate, topic=topic, frequency="immediate")
    return topic, weekly, immediate


def test_two_campaigns_back_to_back_reach_a_weekly_reader_once(workers, smtp, readers):
    _port, sink = smtp
    topic, weekly, _immediate = readers
    first, second = CampaignFactory(topic=topic), CampaignFactory(topic=topic)
    # Both audiences built before either is sent: the weekly reader is in both, and the
    # second campaign's claim-time re-check is what keeps the promise.
    campaign_build_audience(campaign=first)
    campaign_build_audience(campaign=second)
    workers()

    campaign_start(campaign=first)
    wait_until_sent(first)
    campaign_start(campaign=second)
    wait_until_sent(second)

    assert sink.times_mailed() == {"weekly@example.com": 1, "immediate@example.com": 2}
    skipped = Delivery.objects.get(campaign=second, contact=weekly)
    assert (skipped.status, skipped.reason) == ("skipped", SkipReason.FREQUENCY)
    assert campaign_stats(second)["skipped_by_reason"] == {SkipReason.FREQUENCY: 1}


def test_a_campaign_started_after_the_last_one_leaves_the_weekly_reader_out(workers, smtp, readers):
    _port, sink = smtp
    topic, weekly, _immediate = readers
    first, second = CampaignFactory(topic=topic), CampaignFactory(topic=topic)
    workers()

    campaign_start(campaign=first)
    wait_until_sent(first)
    campaign_start(campaign=second)  # its audience is built now, after the first was sent
    wait_until_sent(second)

    assert sink.times_mailed() == {"weekly@example.com": 1, "immediate@example.com": 2}
    assert not Delivery.objects.filter(campaign=second, contact=weekly).exists()


def test_two_campaigns_sent_at_once_never_both_reach_a_weekly_reader(workers, smtp, readers):
    _port, sink = smtp
    topic, _weekly, _immediate = readers
    first, second = CampaignFactory(topic=topic), CampaignFactory(topic=topic)
    campaign_build_audience(campaign=first)
    campaign_build_audience(campaign=second)
    workers()
    workers()

    campaign_start(campaign=first)
    campaign_start(campaign=second)
    wait_until_sent(first)
    wait_until_sent(second)

    mailed = sink.times_mailed()
    assert mailed["immediate@example.com"] == 2
    assert mailed.get("weekly@example.com", 0) <= 1
