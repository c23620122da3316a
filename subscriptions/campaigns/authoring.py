"""Writing a campaign and moving it through its life cycle as an integration asks.

The transitions themselves (and their guards) are the life-cycle services; this module only
creates the draft and names each transition the way the HTTP API does.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from django.db import transaction

from ..models import Campaign, Topic
from .lifecycle import (
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_schedule,
    campaign_start,
    campaign_unschedule,
    campaign_validate,
)

# The API's verb for each life-cycle service.
TRANSITIONS: dict[str, Callable[..., Campaign]] = {
    "send": campaign_start,
    "pause": campaign_pause,
    "resume": campaign_resume,
    "cancel": campaign_cancel,
    "unschedule": campaign_unschedule,
}


def campaign_create(
    *,
    name: str,
    topic: Topic,
    subject: str,
    html_body: str,
    text_body: str,
    from_email: str = "",
    scheduled_at: datetime.datetime | None = None,
) -> Campaign:
    """A draft campaign, or a scheduled one with `scheduled_at`. Refuses a body that won't
    compile (InvalidCampaignTemplate) and a sender that is not allowed (FromNotAllowed)."""
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name,
            topic=topic,
            subject=subject,
            html_body=html_body,
            text_body=text_body,
            from_email=from_email,
        )
        if scheduled_at is not None:
            campaign_schedule(campaign=campaign, at=scheduled_at)
        else:
            campaign_validate(campaign=campaign)
    return campaign


def campaign_change(*, campaign: Campaign, action: str) -> Campaign:
    """send / pause / resume / cancel / unschedule through the life-cycle service of that name (TRANSITIONS);
    CampaignStateError when the campaign's status does not allow it."""
    return TRANSITIONS[action](campaign=campaign)
