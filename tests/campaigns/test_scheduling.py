"""The one scheduling service (campaigns.lifecycle): schedule, move, unschedule; refusals."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from subscriptions.campaigns.lifecycle import (
    CampaignStateError,
    InvalidSchedule,
    campaign_schedule,
    campaign_unschedule,
    due_campaigns,
)
from subscriptions.models.choices import CampaignStatus
from tests.sending_factories import CampaignFactory

HOUR = datetime.timedelta(hours=1)


def test_it_moves_a_scheduled_campaign_and_unschedules_it_back_to_draft(topic):
    campaign = CampaignFactory(topic=topic)
    campaign_schedule(campaign=campaign, at=timezone.now() + HOUR)
    later = timezone.now() + 2 * HOUR

    campaign_schedule(campaign=campaign, at=later)
    assert (campaign.status, campaign.scheduled_at) == (CampaignStatus.SCHEDULED, later)

    campaign_unschedule(campaign=campaign)
    assert (campaign.status, campaign.scheduled_at) == (CampaignStatus.DRAFT, None)
    assert list(due_campaigns(later + HOUR)) == []


def test_it_refuses_a_time_that_has_passed(topic):
    campaign = CampaignFactory(topic=topic)

    with pytest.raises(InvalidSchedule):
        campaign_schedule(campaign=campaign, at=timezone.now() - datetime.timedelta(seconds=1))
    with pytest.raises(InvalidSchedule):
        campaign_schedule(campaign=campaign, at=datetime.datetime(2099, 1, 1))  # no zone

    campaign.refresh_from_db()
    assert (campaign.status, campaign.scheduled_at) == (CampaignStatus.DRAFT, None)


@pytest.mark.parametrize("status", ["sending", "paused", "sent", "cancelled"])
def test_it_refuses_to_schedule_or_unschedule_a_campaign_that_started(topic, status):
    campaign = CampaignFactory(topic=topic, status=status)

    with pytest.raises(CampaignStateError):
        campaign_schedule(campaign=campaign, at=timezone.now() + HOUR)
    with pytest.raises(CampaignStateError):
        campaign_unschedule(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == status


def test_it_refuses_to_unschedule_a_draft(topic):
    with pytest.raises(CampaignStateError):
        campaign_unschedule(campaign=CampaignFactory(topic=topic))
