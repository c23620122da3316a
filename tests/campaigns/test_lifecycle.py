"""Campaign status changes only through subscriptions.campaigns.lifecycle."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import timezone

from subscriptions.campaigns.lifecycle import CampaignStateError, campaign_pause
from subscriptions.feedback.reports import campaign_check_complaint_rate
from subscriptions.models import Campaign, Delivery
from subscriptions.models.choices import CampaignStatus, DeliveryStatus
from tests.sending_factories import subscribers


def complain_about(campaign, topic, *, sent: int, complained: int) -> None:
    for i, contact in enumerate(subscribers(topic, sent)):
        Delivery.objects.create(
            campaign=campaign,
            contact=contact,
            status=DeliveryStatus.SENT,
            sent_at=timezone.now(),
            complained_at=timezone.now() if i < complained else None,
        )


def test_the_complaint_rate_check_pauses_through_the_lifecycle(campaign, topic, settings):
    settings.COMPLAINT_RATE_PAUSE = 0.1
    complain_about(campaign, topic, sent=4, complained=2)
    before = Campaign.objects.get(pk=campaign.pk).updated_at

    assert campaign_check_complaint_rate(campaign=campaign) is True

    # The lifecycle's transition: the caller's object follows, and the change is dated.
    assert campaign.status == CampaignStatus.PAUSED
    assert Campaign.objects.get(pk=campaign.pk).updated_at > before


def test_the_complaint_rate_check_leaves_a_campaign_that_is_no_longer_sending(
    campaign, topic, settings
):
    settings.COMPLAINT_RATE_PAUSE = 0.1
    complain_about(campaign, topic, sent=4, complained=2)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENT)

    assert campaign_check_complaint_rate(campaign=campaign) is False
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT


def test_a_paused_campaign_cannot_be_paused_again(campaign):
    campaign_pause(campaign=campaign)

    with pytest.raises(CampaignStateError):
        campaign_pause(campaign=campaign)


APP = Path(__file__).resolve().parents[2] / "subscriptions"
# What changing a campaign's status looks like outside the lifecycle: an UPDATE or an assignment
# with a campaign status, or a save after one.
STATUS_WRITES = re.compile(
    r"\.update\([^)]*status=CampaignStatus|campaign\.status\s*=(?!=)|\bstatus\s*=\s*CampaignStatus\.\w+\s*$",
    re.MULTILINE,
)


def test_nothing_outside_the_lifecycle_changes_a_campaign_status():
    writers = {
        path.relative_to(APP).as_posix()
        for path in APP.rglob("*.py")
        if "migrations" not in path.relative_to(APP).parts
        and STATUS_WRITES.search(path.read_text(encoding="utf-8"))
    }
    assert writers == {"campaigns/lifecycle.py"}
