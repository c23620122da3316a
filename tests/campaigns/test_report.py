"""The Review step's figures and the report's: counted with the sending side's own rules."""

from __future__ import annotations

import datetime

from django.urls import reverse
from django.utils import timezone

from subscriptions.campaigns.audience import campaign_build_audience
from subscriptions.campaigns.report import (
    campaign_progress,
    campaign_review,
    sends_per_minute,
)
from subscriptions.consent.tokens import unsubscribe_token
from subscriptions.models import Delivery
from subscriptions.models.choices import CampaignStatus, DeliveryStatus
from tests.sending_factories import CampaignFactory, subscribers


def test_the_review_count_is_what_building_the_audience_inserts(topic, audience):
    campaign = CampaignFactory(topic=topic)

    review = campaign_review(campaign)

    assert review.audience == campaign_build_audience(campaign=campaign) == 2


def test_the_review_names_each_left_out_subscriber_once_by_the_first_reason(topic, audience):
    review = campaign_review(CampaignFactory(topic=topic))

    by_reason = {reason: n for reason, _label, n in review.skipped_by_reason}
    # The stranger never subscribed to the topic: not "left out", just not on it.
    assert by_reason == {
        "erased": 1,
        "suppressed": 1,
        "unsubscribed": 1,
        "paused": 1,
        "under_age": 1,
    }
    assert review.skipped == 5


def test_messages_per_minute_are_grouped_by_the_minute_they_were_sent(topic):
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENT)
    people = subscribers(topic, 3)
    minute = timezone.now().replace(second=0, microsecond=0)
    sent_at = [
        minute - datetime.timedelta(minutes=1),
        minute,
        minute + datetime.timedelta(seconds=30),
    ]
    for contact, at in zip(people, sent_at, strict=True):
        Delivery.objects.create(
            campaign=campaign, contact=contact, status=DeliveryStatus.SENT, sent_at=at
        )

    series = sends_per_minute(campaign)

    assert [point["sent"] for point in series] == [1, 2]
    assert series[-1]["minute"] == minute.isoformat().replace("+00:00", "Z")


def test_a_finished_campaigns_rate_is_over_its_whole_run_and_counts_its_unsubscribes(client, topic):
    started = timezone.now() - datetime.timedelta(minutes=10)
    campaign = CampaignFactory(
        topic=topic,
        status=CampaignStatus.SENT,
        started_at=started,
        finished_at=started + datetime.timedelta(minutes=2),
    )
    people = subscribers(topic, 4)
    for contact in people:
        Delivery.objects.create(
            campaign=campaign, contact=contact, status=DeliveryStatus.SENT, sent_at=started
        )
    # The recipient's mail client presses one-click unsubscribe on this campaign's mail.
    token = unsubscribe_token(people[0], topic, campaign_id=campaign.pk)
    assert client.post(reverse("unsubscribe", args=[token]), {"List-Unsubscribe": "One-Click"})

    progress = campaign_progress(campaign)

    assert progress["rate_per_minute"] == 2.0
    assert progress["done_percent"] == 100.0
    assert progress["stats"]["unsubscribed"] == 1
    assert progress["rates"]["unsubscribed"] == 25.0
    assert progress["live"] is False
