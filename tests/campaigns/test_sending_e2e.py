"""End to end: real `celery -A prefcenter worker` processes, a real SMTP sink, the test database."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.utils import timezone

from prefcenter.celery import app
from subscriptions.addresses import address_hash, address_key
from subscriptions.campaigns import tasks as marketing
from subscriptions.campaigns.audience import campaign_build_audience
from subscriptions.campaigns.lifecycle import (
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_start,
)
from subscriptions.campaigns.stats import campaign_stats
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import subscription_unsubscribe
from subscriptions.mail.transactional import send_transactional
from subscriptions.models import Contact, Delivery, Subscription
from subscriptions.models.choices import CampaignStatus
from tests.sending_factories import CampaignFactory, subscribers
from tests.support.database import database_url as role_database_url
from tests.support.smtp import Sink

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


@pytest.fixture
def workers(smtp, transactional_db):
    """Start workers (`-Q marketing` / `-Q transactional`) on the test database; kill at the end."""
    port, _sink = smtp
    app.control.purge()
    started: list[subprocess.Popen] = []
    # The workers run as the app role, like the web app and the tests' own connection.
    database_url = role_database_url("app")

    def start(queue: str, **extra_env: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "prefcenter.test_settings",
            "DATABASE_URL": database_url,
            "MARKETING_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "TRANSACTIONAL_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
            "LOG_LEVEL": "WARNING",
            **extra_env,
        }
        process = subprocess.Popen(
            [
                CELERY,
                "-A",
                "prefcenter",
                "worker",
                "-Q",
                queue,
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
        kill(process)
    app.control.purge()


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the worker's own process group: no warm shutdown, no cleanup."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def bulk_subscribers(topic, n: int, prefix: str = "bulk") -> list[Contact]:
    """`n` contacts subscribed to `topic`, created set-wise (factories take minutes for 100,000)."""
    contacts = Contact.objects.bulk_create(
        (
            Contact(
                email=f"{prefix}{i}@example.com",
                email_key=address_key(f"{prefix}{i}@example.com"),
                address_hash=address_hash(f"{prefix}{i}@example.com"),
            )
            for i in range(n)
        ),
        batch_size=5000,
    )
    Subscription.objects.bulk_create(
        (Subscription(contact=c, topic=topic, status="subscribed") for c in contacts),
        batch_size=5000,
    )
    return contacts


def counts(campaign) -> dict:
    return campaign_stats(campaign)


def sent_addresses(campaign) -> set[str]:
    """Who the database says was sent the campaign."""
    sent = Delivery.objects.filter(campaign=campaign, status="sent")
    return set(sent.values_list("contact__email", flat=True))


def assert_never_twice(sink: Sink):
    duplicates = [a for a, n in collections.Counter(sink.recipients()).items() if n > 1]
    assert duplicates == []


def test_it_mails_exactly_the_marketable_contacts_once(workers, smtp, topic):
    _port, sink = smtp
    ok = subscribers(topic, 25)
    late_unsubscriber = subscribers(topic, 1)[0]
    subscribers(topic, 2, erased_at=timezone.now())
    campaign = CampaignFactory(topic=topic)
    campaign_build_audience(campaign=campaign)
    subscription_unsubscribe(
        contact=late_unsubscriber, topic=topic, by=Actor(source="one_click", actor="test")
    )
    workers("marketing")

    campaign_start(campaign=campaign)

    wait_for(lambda: _status(campaign) == CampaignStatus.SENT, 30, "the campaign to finish")
    assert sorted(sink.recipients()) == sorted(c.email for c in ok)
    assert_never_twice(sink)
    stats = counts(campaign)
    assert (stats["sent"], stats["skipped_by_reason"]) == (25, {"unsubscribed": 1})
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in sink.received[0][1]


def _status(campaign) -> str:
    campaign.refresh_from_db()
    return campaign.status


def test_it_never_mails_twice_when_a_worker_is_killed_mid_campaign(workers, smtp, topic, settings):
    _port, sink = smtp
    contacts = subscribers(topic, 60)
    campaign = CampaignFactory(topic=topic)
    throttled = {"MARKETING_SEND_RATE": "25", "SEND_BATCH_SIZE": "10"}
    first = workers("marketing", **throttled)
    campaign_start(campaign=campaign)
    wait_for(lambda: counts(campaign)["sent"] >= 10, 30, "the first sends")

    kill(first)
    # What the beat's sweep does once the claims are old enough and the campaign is quiet.
    settings.STALE_CLAIM_SECONDS = 0
    settings.SEND_STALLED_SECONDS = 0
    marketing.sweep_campaigns()
    workers("marketing", **throttled)

    wait_for(lambda: _status(campaign) == CampaignStatus.SENT, 40, "the campaign to finish")
    assert_never_twice(sink)
    stats = counts(campaign)
    assert stats["pending"] == 0
    assert stats["sent"] + stats["outcome_unknown"] == len(contacts)
    assert stats["failed"] == stats["outcome_unknown"]
    assert sent_addresses(campaign) <= set(sink.recipients())


def test_it_pauses_resumes_and_cancels_mid_send(workers, smtp, topic):
    _port, sink = smtp
    subscribers(topic, 80)
    campaign = CampaignFactory(topic=topic)
    workers("marketing", MARKETING_SEND_RATE="20", SEND_BATCH_SIZE="10")
    campaign_start(campaign=campaign)
    wait_for(lambda: counts(campaign)["sent"] >= 5, 30, "the first sends")

    campaign_pause(campaign=campaign)
    wait_for(lambda: counts(campaign)["claimed"] == 0, 5, "the claims to be released")
    paused_at = len(sink.recipients())
    time.sleep(1.5)
    assert len(sink.recipients()) == paused_at
    assert counts(campaign)["pending"] > 0

    campaign_resume(campaign=campaign)
    wait_for(lambda: len(sink.recipients()) > paused_at + 3, 15, "sending to resume")
    campaign_cancel(campaign=campaign)
    wait_for(lambda: counts(campaign)["claimed"] == 0, 5, "the worker to stop")
    stopped_at = len(sink.recipients())
    time.sleep(1.5)

    assert len(sink.recipients()) == stopped_at
    assert_never_twice(sink)
    stats = counts(campaign)
    assert stats["pending"] == 0
    assert stats["skipped_by_reason"].get("cancelled", 0) > 0
    assert stats["sent"] == stopped_at
    assert _status(campaign) == CampaignStatus.CANCELLED


def test_it_delivers_transactional_mail_past_a_marketing_backlog(workers, smtp, topic):
    _port, sink = smtp
    bulk_subscribers(topic, 100_000)
    campaign = CampaignFactory(topic=topic)
    workers("marketing", MARKETING_SEND_RATE="10", SEND_BATCH_SIZE="20")
    workers("transactional")
    # Wait for the transactional worker to be up, so the timing below measures the queue only.
    send_transactional(to="warmup@example.com", subject="Warm-up", text="Up?")
    wait_for(lambda: "warmup@example.com" in sink.recipients(), 30, "the transactional worker")
    campaign_start(campaign=campaign)
    wait_for(lambda: counts(campaign)["sent"] >= 1, 60, "the campaign to be sending")
    assert counts(campaign)["pending"] > 99_000

    asked = time.monotonic()
    send_transactional(to="reset@example.com", subject="Reset your password", text="Here.")
    wait_for(lambda: "reset@example.com" in sink.recipients(), 10, "the transactional message")

    assert time.monotonic() - asked < 5
    reset = next(data for rcpt, data in sink.received if rcpt == "reset@example.com")
    assert b"List-Unsubscribe" not in reset
    assert counts(campaign)["pending"] > 99_000


def test_it_never_mails_twice_through_postmarks_batch_api_when_a_worker_is_killed(
    workers, fake_postmark, topic, settings
):
    contacts = bulk_subscribers(topic, 1500, prefix="batch")
    campaign = CampaignFactory(topic=topic)
    handler = fake_postmark.RequestHandlerClass
    # The first batch call hangs until the worker is dead. Held by an event, not a fixed delay:
    # under load a 4-second hang ended, or the kill came, at a different point of the send.
    handler.faults.append({"hold": 120.0})
    postmark = {
        "MARKETING_EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
        "ANYMAIL_POSTMARK_SERVER_TOKEN": "test-token",
        "ANYMAIL_POSTMARK_API_URL": f"http://127.0.0.1:{fake_postmark.server_address[1]}/",
    }
    first = workers("marketing", **postmark)
    campaign_start(campaign=campaign)
    # One of the worker's SEND_LOOPS send loops is stuck in the hung call; the other claims
    # and sends the other two batches meanwhile, however slowly the machine renders them.
    wait_for(handler.holding.is_set, 60, "the first batch call to hang")
    wait_for(lambda: counts(campaign)["sent"] >= 1000, 90, "the other batches to be sent")
    before = counts(campaign)
    assert (before["claimed"], before["sent"], before["pending"]) == (500, 1000, 500)

    kill(first)
    handler.released.set()  # the killed worker's call completes at the fake: its messages go
    settings.STALE_CLAIM_SECONDS = 0
    settings.SEND_STALLED_SECONDS = 0
    marketing.sweep_campaigns()
    workers("marketing", **postmark)

    wait_for(lambda: _status(campaign) == CampaignStatus.SENT, 60, "the campaign to finish")
    wait_for(lambda: handler.recorder.stats()["messages"] >= 1500, 30, "the hung call to land")
    received = [line.split("\t")[2] for line in handler.recorder.path.read_text().splitlines()]
    assert [a for a, n in collections.Counter(received).items() if n > 1] == []
    stats = counts(campaign)
    assert (stats["outcome_unknown"], stats["sent"]) == (500, 1000)
    assert stats["sent"] + stats["outcome_unknown"] == len(contacts)
    assert sent_addresses(campaign) <= set(received)
    assert len(set(received)) == 1500  # the lost answer's messages did go: never resent
