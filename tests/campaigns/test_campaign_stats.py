"""campaign_stats: live deliveries, archived outcomes and the ESP's feedback in one answer."""

from __future__ import annotations

from django.utils import timezone

from subscriptions.campaigns.stats import campaign_stats
from subscriptions.models import CampaignStatsArchive, Delivery
from tests.factories import ContactFactory


def test_it_counts_feedback_and_archived_deliveries(campaign):
    now = timezone.now()
    Delivery.objects.create(
        campaign=campaign, contact=ContactFactory(), status="sent", bounced_at=now
    )
    Delivery.objects.create(
        campaign=campaign, contact=ContactFactory(), status="sent", complained_at=now
    )
    Delivery.objects.create(campaign=campaign, contact=ContactFactory(), status="pending")
    CampaignStatsArchive.objects.create(campaign=campaign, status="sent", count=40)
    CampaignStatsArchive.objects.create(
        campaign=campaign, status="skipped", reason="unsubscribed", count=3
    )

    stats = campaign_stats(campaign)

    assert stats["audience"] == 46
    assert stats["sent"] == 42
    assert stats["pending"] == 1
    assert stats["skipped_by_reason"] == {"unsubscribed": 3}
    assert (stats["bounced"], stats["complained"], stats["unsubscribed"]) == (1, 1, 0)
