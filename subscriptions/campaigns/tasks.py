"""Thin Celery adapters for the marketing queue: ids in, a campaign service called, retries here.

Also the worker's side of claim recovery (DESIGN rule 4): a worker starting up takes back the
claims of workers of this host that are gone, and every worker process runs a heartbeat that
renews its own leases and takes back lapsed ones, every CLAIM_RENEW_SECONDS; a campaign whose
claims came back gets fresh senders at once.
"""

from __future__ import annotations

import datetime
import logging
import os
import threading
import time

from celery import shared_task
from celery.signals import worker_process_init, worker_ready
from django.conf import settings
from django.db.models import Exists, OuterRef
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisDown
from redis.exceptions import TimeoutError as RedisTimeout

from ..models import Campaign, Delivery
from ..models.choices import CampaignStatus, DeliveryStatus
from .audience import campaign_build_audience
from .claims import (
    CLAIM_RENEW_SECONDS,
    claims_give_back,
    claims_recover,
    claims_renew,
    gone_holders,
)
from .lifecycle import (
    CampaignStateError,
    campaign_finish_if_done,
    campaign_start,
    due_campaigns,
    stalled_campaign_ids,
    unbuilt_campaign_ids,
)
from .messages import FromNotAllowed, InvalidCampaignTemplate
from .sending import DB_ERRORS, SendingUnavailable, reconnect, send_until_done_concurrently

log = logging.getLogger(__name__)

# A database, broker or Redis (the send-rate counter) outage: the send task waits it out,
# backing off, instead of ending.
OUTAGE_ERRORS = (*DB_ERRORS, BrokerError, RedisDown, RedisTimeout)
# How long a send task keeps retrying an outage, within its soft time limit.
OUTAGE_PATIENCE_SECONDS = 300.0


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
    """Send a bounded number of batches, then re-queue itself while work remains.

    A database or broker outage does not end it: it gives back this process's unsent claims
    (once the database answers), backs off and goes on, for up to OUTAGE_PATIENCE_SECONDS.
    """
    deadline = time.monotonic() + OUTAGE_PATIENCE_SECONDS
    pause = 0.5
    while True:
        try:
            return _send_batches(campaign_id)
        except OUTAGE_ERRORS:
            if time.monotonic() > deadline:
                raise
            log.warning("campaign %s: outage while sending; retrying", campaign_id, exc_info=True)
            reconnect()
            time.sleep(pause)
            pause = min(pause * 2, 10.0)
            try:
                # No send loop of this process runs now: its claims are orphans.
                claims_give_back()
            except DB_ERRORS:
                reconnect()


def _send_batches(campaign_id: int) -> dict:
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


def resume_recovered(campaign_ids: set[int]) -> None:
    """Campaigns whose claims were taken back: finish those now done, send the rest at once."""
    for campaign_id in sorted(campaign_ids):
        if campaign_finish_if_done(campaign=campaign_id):
            continue
        if Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).exists():
            fan_out(campaign_id)


def recover_claims() -> set[int]:
    """Take back the claims of gone or lapsed holders and resume their campaigns."""
    recovered = claims_recover(holders=gone_holders())
    resume_recovered(recovered)
    return recovered


_heartbeat = {"pid": None}


def _beat_forever() -> None:
    while True:
        time.sleep(CLAIM_RENEW_SECONDS)
        try:
            claims_renew()
            recover_claims()
        except Exception:
            log.warning("claim heartbeat failed; trying again", exc_info=True)
            reconnect()


def start_heartbeat() -> None:
    """Renew this process's leases and recover lapsed claims every CLAIM_RENEW_SECONDS."""
    if _heartbeat["pid"] == os.getpid():
        return
    _heartbeat["pid"] = os.getpid()
    threading.Thread(target=_beat_forever, name="claim-heartbeat", daemon=True).start()


@worker_process_init.connect
def _on_process_init(**_kwargs) -> None:
    start_heartbeat()  # a pool process: it holds the claims of the tasks it runs


@worker_ready.connect
def _on_worker_ready(**_kwargs) -> None:
    """A worker (re)starting takes back the claims of its host's dead workers at once, and
    re-queues senders for every sending campaign with work left: the tasks a killed worker held
    come back only after the broker's visibility timeout (an hour on Redis)."""
    start_heartbeat()
    try:
        recovered = recover_claims()
        pending = Delivery.objects.filter(campaign=OuterRef("pk"), status=DeliveryStatus.PENDING)
        waiting = Campaign.objects.filter(status=CampaignStatus.SENDING).filter(Exists(pending))
        for campaign_id in set(waiting.values_list("pk", flat=True)) - recovered:
            fan_out(campaign_id)
    except Exception:
        log.exception("could not recover claims at worker start")
    finally:
        reconnect()


@shared_task(name="subscriptions.tasks.marketing.sweep_campaigns")
def sweep_campaigns() -> dict:
    """Beat: start due scheduled campaigns, recover lost claims, revive stalled campaigns."""
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
    recovered = len(recover_claims())
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
