"""Duplicating a campaign: its content as a new draft, never its run."""

from __future__ import annotations

from django.utils import timezone

from subscriptions.campaigns.copies import NOT_COPIED, campaign_duplicate
from subscriptions.models import Campaign
from subscriptions.models.choices import CampaignStatus
from tests.sending_factories import CampaignFactory


def test_every_content_field_is_copied_and_the_run_is_not(topic, django_user_model):
    marketer = django_user_model.objects.create_user("mia")
    campaign = CampaignFactory(
        topic=topic,
        status=CampaignStatus.SENT,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        scheduled_at=timezone.now(),
        schedule_time_zone="Europe/Copenhagen",
        from_email="news@example.com",
    )

    copy = campaign_duplicate(campaign=campaign, user=marketer)

    assert copy.pk != campaign.pk
    assert (copy.status, copy.scheduled_at, copy.started_at, copy.finished_at) == (
        CampaignStatus.DRAFT,
        None,
        None,
        None,
    )
    assert copy.created_by == marketer
    content = [
        f.attname
        for f in Campaign._meta.concrete_fields
        if f.name not in NOT_COPIED and f.name != "name"
    ]
    assert {name: getattr(copy, name) for name in content} == {
        name: getattr(campaign, name) for name in content
    }
    assert copy.name == f"Copy of {campaign.name}"
    assert not copy.deliveries.exists()
