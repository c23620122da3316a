"""End to end, DESIGN rule 4: campaigns survive killed workers and always finish.

Real `celery -A prefcenter worker` processes (test_sending_e2e's fixtures), the test database.
Kept lean: one campaign per fault, small batches, throttled so that the kill lands mid-send.
"""

from __future__ import annotations

import collections
import time

import pytest

from subscriptions.campaigns.audience import campaign_build_audience
from subscriptions.campaigns.lifecycle import campaign_start
from subscriptions.campaigns.stats import campaign_stats
from subscriptions.models import Campaign, Subscription
from subscriptions.models.choices import CampaignStatus
from tests.campaigns.test_sending_e2e import (  # noqa: F401 (fixtures)
    _status,
    bulk_subscribers,
    kill,
    sent_addresses,
    wait_for,
    workers,
)
from tests.sending_factories import CampaignFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RECIPIENTS = 3000


def assert_adds_up(campaign, audience: int) -> dict:
    stats = campaign_stats(campaign)
    assert (stats["pending"], stats["claimed"]) == (0, 0)
    assert stats["audience"] == audience
    assert stats["sent"] + stats["skipped"] + stats["failed"] == audience
    return stats


def test_it_finishes_a_campaign_over_smtp_after_every_worker_is_killed(
    workers,  # noqa: F811
    smtp,
    topic,
):
    _port, sink = smtp
    contacts = bulk_subscribers(topic, RECIPIENTS, prefix="smtpkill")
    campaign = CampaignFactory(topic=topic)
    # Two workers of four SMTP connections each: at most 8 messages in flight at any instant.
    env = {"MARKETING_SEND_RATE": "250", "SEND_BATCH_SIZE": "50", "SEND_CONNECTIONS": "4"}
    in_flight_at_most = 2 * 4
    first = [workers("marketing", **env) for _ in range(2)]
    campaign_start(campaign=campaign)
    wait_for(lambda: len(sink.recipients()) >= RECIPIENTS // 5, 90, "20% of the campaign")

    for process in first:
        kill(process)
    time.sleep(3)
    restarted = time.monotonic()
    for _ in range(2):
        workers("marketing", **env)

    wait_for(lambda: _status(campaign) == CampaignStatus.SENT, 120, "the campaign to finish")
    assert time.monotonic() - restarted < 120
    received = sink.recipients()
    assert [a for a, n in collections.Counter(received).items() if n > 1] == []
    missing = {c.email for c in contacts} - set(received)
    assert len(missing) <= in_flight_at_most
    stats = assert_adds_up(campaign, RECIPIENTS)
    assert stats["outcome_unknown"] <= in_flight_at_most
    assert stats["sent"] + stats["outcome_unknown"] == RECIPIENTS
    assert sent_addresses(campaign) <= set(received)


def test_it_finishes_a_campaign_through_postmarks_batch_api_after_every_worker_is_killed(
    workers,  # noqa: F811
    fake_postmark,
    topic,
):
    contacts = bulk_subscribers(topic, RECIPIENTS, prefix="pmkill")
    campaign = CampaignFactory(topic=topic)
    recorder = fake_postmark.RequestHandlerClass.recorder
    # Batch calls of 100 messages, two send loops per worker: at most 2 calls in flight each.
    env = {
        "MARKETING_EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
        "ANYMAIL_POSTMARK_SERVER_TOKEN": "test-token",
        "ANYMAIL_POSTMARK_API_URL": f"http://127.0.0.1:{fake_postmark.server_address[1]}/",
        "MARKETING_SEND_RATE": "300",
        "SEND_BATCH_SIZE": "100",
        "SEND_LOOPS": "2",
    }
    in_flight_at_most = 2 * 2 * 100

    def received() -> list[str]:
        recorder.stats()  # flushes the log
        return [line.split("\t")[2] for line in recorder.path.read_text().splitlines()]

    first = [workers("marketing", **env) for _ in range(2)]
    campaign_start(campaign=campaign)
    wait_for(lambda: len(received()) >= RECIPIENTS // 5, 90, "20% of the campaign")

    for process in first:
        kill(process)
    time.sleep(3)
    restarted = time.monotonic()
    for _ in range(2):
        workers("marketing", **env)

    wait_for(lambda: _status(campaign) == CampaignStatus.SENT, 120, "the campaign to finish")
    assert time.monotonic() - restarted < 120
    got = received()
    assert [a for a, n in collections.Counter(got).items() if n > 1] == []
    missing = {c.email for c in contacts} - set(got)
    assert len(missing) <= in_flight_at_most
    stats = assert_adds_up(campaign, RECIPIENTS)
    assert stats["outcome_unknown"] <= in_flight_at_most
    assert stats["sent"] + stats["outcome_unknown"] == RECIPIENTS
    assert sent_addresses(campaign) <= set(got)


def test_it_finishes_every_one_of_many_campaigns_of_many_small_batches(
    workers,  # noqa: F811
    topic,
):
    audience = 200
    contacts = bulk_subscribers(topic, audience, prefix="many")
    campaigns = [CampaignFactory(topic=topic) for _ in range(20)]
    for campaign in campaigns:
        campaign_build_audience(campaign=campaign)
    # A few who left after the audience was built: skipped at claim time, figures adding up.
    Subscription.objects.filter(contact__in=contacts[:10]).update(status="unsubscribed")
    # 200 batches a campaign, a few per task: many task ends, each one a chance to miss the finish.
    env = {
        "MARKETING_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "SEND_BATCH_SIZE": "1",
        "SEND_MAX_BATCHES_PER_TASK": "5",
        "SEND_FANOUT": "3",
    }
    for _ in range(3):
        workers("marketing", **env)

    for campaign in campaigns:
        campaign_start(campaign=campaign)

    def finished() -> bool:
        ids = [c.pk for c in campaigns]
        return not Campaign.objects.filter(pk__in=ids).exclude(status=CampaignStatus.SENT).exists()

    wait_for(finished, 300, "every campaign to finish")
    for campaign in campaigns:
        stats = assert_adds_up(campaign, audience)
        assert stats["skipped_by_reason"] == {"unsubscribed": 10}
        assert stats["sent"] == audience - 10
