"""Thin Celery adapters for the marketing queue: ids in, a campaign service called, retries here."""

from __future__ import annotations

import datetime
import logging

from celery import shared_task
from django.conf import settings

from ..models import Campaign
from ..models.choices import CampaignStatus, DeliveryStatus
from .audience import campaign_build_audience
from .claims import recover_stale_claims
from .lifecycle import (
    CampaignStateError,
    campaign_start,
    due_campaigns,
    stalled_campaign_ids,
    unbuilt_campaign_ids,
)
from .messages import FromNotAllowed, InvalidCampaignTemplate
from .sending import SendingUnavailable, send_until_done_concurrently

log = logging.getLogger(__name__)


def fan_out(campaign_id: int, n: int | None = None) -> None:
    """Queue `n` parallel batch senders; extra ones find nothing to claim and stop at once."""
    for _ in range(n or settings.SEND_FANOUT):
        send_batches.delay(campaign_id)


@shared_task(name="subscriptions.tasks.marketing.start_campaign", acks_late=True)
def start_campaign(campaign_id: int) -> int:
    """Build the audience of a sending campaign, then fan out the batch senders."""
    campaign = Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).first()
    if campaign is None:
        return 0
    added = campaign_build_audience(campaign=campaign)
    fan_out(campaign_id)
    return added


@shared_task(
    name="subscriptions.tasks.marketing.send_batches",
    acks_late=True,
    # A redelivered task only claims new rows: claimed-but-unsent ones are never resent.
    autoretry_for=(SendingUnavailable,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=10,
    soft_time_limit=540,
    time_limit=600,
)
def send_batches(campaign_id: int) -> dict:
    """Send a bounded number of batches, then re-queue itself while work remains."""
    campaign = Campaign.objects.select_related("topic").filter(pk=campaign_id).first()
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        return {}
    result = send_until_done_concurrently(
        campaign=campaign, max_batches=settings.SEND_MAX_BATCHES_PER_TASK
    )
    if (
        not result.stopped
        and result.claimed
        and campaign.deliveries.filter(status=DeliveryStatus.PENDING).exists()
    ):
        send_batches.delay(campaign_id)
    return {"sent": result.sent, "skipped": result.skipped, "failed": result.failed}


@shared_task(name="subscriptions.tasks.marketing.sweep_campaigns")
def sweep_campaigns() -> dict:
    """Beat: start due scheduled campaigns, fail stale claims, revive stalled campaigns."""
    started = 0
    for campaign in due_campaigns():
        try:
            campaign_start(campaign=campaign)
            started += 1
        except CampaignStateError:
            continue
        except (InvalidCampaignTemplate, FromNotAllowed):
            # A template the sandbox refuses, or a From no longer allowed: the campaign stays
            # scheduled for a person to fix; the sweep goes on recovering the others.
            log.exception("scheduled campaign %s cannot start", campaign.pk)
            continue
    recovered = recover_stale_claims(
        older_than=datetime.timedelta(seconds=settings.STALE_CLAIM_SECONDS)
    )
    quiet_for = datetime.timedelta(seconds=settings.SEND_STALLED_SECONDS)
    revived = 0
    for campaign_id in [
        *stalled_campaign_ids(quiet_for=quiet_for),
        *unbuilt_campaign_ids(quiet_for=quiet_for),
    ]:
        # Its tasks were lost with a killed worker, maybe mid-build: building again completes
        # the audience (it adds nobody twice), then fresh senders claim what is pending.
        start_campaign.delay(campaign_id)
        revived += 1
    return {"started": started, "recovered": recovered, "revived": revived}
