"""The campaign state machine: the only code that changes a Campaign's status.

    draft --schedule--> scheduled --start (beat, when due)--> sending --finish--> sent
    scheduled --unschedule--> draft
    draft --start--> sending <--pause / resume--> paused
    draft, scheduled, sending, paused --cancel--> cancelled

Every transition is one conditional UPDATE (`_transition`), so two requests racing for the same
change make it once, and the loser gets CampaignStateError. The sweeps that find campaigns to
start or revive live here too: they read the same states.
"""

from __future__ import annotations

import contextlib
import datetime
import logging

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ..consent.events import outbound_event_emit, wanted_event_types
from ..models import Campaign, Delivery
from ..models.choices import CampaignStatus, DeliveryStatus, OutboundEventType, SkipReason
from .messages import check_from_email, compile_campaign
from .stats import campaign_stats

log = logging.getLogger(__name__)

# Statuses from which a campaign may still be started / cancelled.
STARTABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
CANCELLABLE = (
    CampaignStatus.DRAFT,
    CampaignStatus.SCHEDULED,
    CampaignStatus.SENDING,
    CampaignStatus.PAUSED,
)


class CampaignStateError(Exception):
    """The campaign is not in a state that allows this transition."""

    code = "invalid_state"


def campaign_status(campaign_id: int) -> str | None:
    """The campaign's status as stored now (sending workers poll it between send calls)."""
    return Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()


def _transition(campaign: Campaign, allowed, **changes) -> None:
    """Conditional UPDATE: the transition happens once even when two requests race."""
    done = Campaign.objects.filter(pk=campaign.pk, status__in=allowed).update(
        updated_at=timezone.now(), **changes
    )
    campaign.refresh_from_db()
    if not done:
        raise CampaignStateError(
            f"Campaign {campaign.pk} is {campaign.status}; cannot become {changes['status']}."
        )


def _enqueue(task_name: str, campaign_id: int) -> None:
    """Queue a campaign task after commit; with the broker down the beat's sweep picks it up."""
    # The service<->task pair of this package: tasks.py imports this module at load time.
    from . import tasks

    task = getattr(tasks, task_name)

    def enqueue() -> None:
        try:
            getattr(task, "delay", task)(campaign_id)
        except Exception:
            log.exception("could not queue %s for campaign %s", task_name, campaign_id)

    transaction.on_commit(enqueue)


def campaign_validate(*, campaign: Campaign) -> None:
    """Raise InvalidCampaignTemplate when the subject or a body does not compile in the sandbox,
    FromNotAllowed when its From address is not in ALLOWED_FROM_EMAILS."""
    compile_campaign(campaign)
    check_from_email(campaign.from_email)


class InvalidSchedule(ValueError):
    """A schedule time that has passed (or names no time zone): it could not be kept (rule 8)."""

    code = "invalid_schedule"  # the API's error code


def campaign_schedule(
    *, campaign: Campaign, at: datetime.datetime, time_zone: str = ""
) -> Campaign:
    """draft/scheduled → scheduled at `at` (an aware time; shown and stored as such). Beat's
    sweep starts it within a minute of `at` (due_campaigns). `time_zone` (a zoneinfo name) is
    the zone the time was chosen in, kept to show it that way; empty: the console's zone.

    The one scheduling service: the admin form, its actions and the API all call it. Refuses a
    time already past (InvalidSchedule), a campaign that would not send (InvalidCampaignTemplate,
    FromNotAllowed), and any other status (CampaignStateError).
    """
    if timezone.is_naive(at):
        raise InvalidSchedule("The schedule time needs a time zone.")
    if at <= timezone.now():
        raise InvalidSchedule("The schedule time has already passed; choose a time in the future.")
    campaign_validate(campaign=campaign)
    _transition(
        campaign,
        STARTABLE,
        status=CampaignStatus.SCHEDULED,
        scheduled_at=at,
        schedule_time_zone=time_zone[:64],
    )
    return campaign


def campaign_unschedule(*, campaign: Campaign) -> Campaign:
    """scheduled → draft, its time cleared; CampaignStateError when it is not scheduled (one
    that already started is paused or cancelled instead)."""
    _transition(
        campaign,
        (CampaignStatus.SCHEDULED,),
        status=CampaignStatus.DRAFT,
        scheduled_at=None,
        schedule_time_zone="",
    )
    return campaign


def campaign_start(*, campaign: Campaign, user=None, enqueue: bool = True) -> Campaign:
    """Begin sending: draft/scheduled → sending; the workers build the audience and send.

    With enqueue=False the caller builds and sends itself (the send_campaign command).
    """
    campaign_validate(campaign=campaign)
    _transition(
        campaign,
        STARTABLE,
        status=CampaignStatus.SENDING,
        started_at=timezone.now(),
        sent_by=user if getattr(user, "pk", None) else None,
    )
    if enqueue:
        _enqueue("start_campaign", campaign.pk)
    return campaign


def campaign_pause(*, campaign: Campaign) -> Campaign:
    """Stop sending; workers release their unsent claims at their next re-check.

    Raises CampaignStateError unless the campaign is sending (so an automatic pause, such as
    the complaint-rate check, never pauses a campaign twice nor revives a finished one).
    """
    _transition(campaign, (CampaignStatus.SENDING,), status=CampaignStatus.PAUSED)
    return campaign


def campaign_resume(*, campaign: Campaign, enqueue: bool = True) -> Campaign:
    _transition(campaign, (CampaignStatus.PAUSED,), status=CampaignStatus.SENDING)
    if enqueue:
        _enqueue("fan_out", campaign.pk)
    return campaign


def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Stop for good: what is still pending is skipped with reason `cancelled`."""
    with transaction.atomic():
        _transition(
            campaign, CANCELLABLE, status=CampaignStatus.CANCELLED, finished_at=timezone.now()
        )
        Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SKIPPED, reason=SkipReason.CANCELLED
        )
    return campaign


def campaign_finish_if_done(*, campaign: Campaign | int) -> bool:
    """Mark a sending campaign `sent` once nothing is pending or claimed. Returns True if so.

    One conditional UPDATE (status sending AND NOT EXISTS open work), so whichever process
    resolves the last delivery finishes the campaign, and two racing finish it once: each
    caller checks after committing its own writes, so the last to check sees them all. The
    `campaign.finished` event is written with the change.
    """
    campaign_id = getattr(campaign, "pk", campaign)
    open_work = Delivery.objects.filter(
        campaign=OuterRef("pk"), status__in=[DeliveryStatus.PENDING, DeliveryStatus.CLAIMED]
    )
    # A transaction only when the event is wanted: the send loop's query budget stays as it was.
    wanted = OutboundEventType.CAMPAIGN_FINISHED in wanted_event_types()
    with transaction.atomic() if wanted else contextlib.nullcontext():
        done = (
            Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING)
            .exclude(Exists(open_work))
            .update(status=CampaignStatus.SENT, finished_at=timezone.now())
        )
        if done:
            outbound_event_emit(
                event_type=OutboundEventType.CAMPAIGN_FINISHED,
                data=lambda: {
                    "campaign_id": campaign_id,
                    "stats": campaign_stats(Campaign.objects.get(pk=campaign_id)),
                },
            )
    return bool(done)


def stalled_campaign_ids(*, quiet_for: datetime.timedelta) -> list[int]:
    """Sending campaigns with pending work but no claim for `quiet_for` (their tasks died)."""
    recent = Delivery.objects.filter(
        campaign=OuterRef("pk"), claimed_at__gte=timezone.now() - quiet_for
    )
    pending = Delivery.objects.filter(campaign=OuterRef("pk"), status=DeliveryStatus.PENDING)
    return list(
        Campaign.objects.filter(
            status=CampaignStatus.SENDING, started_at__lt=timezone.now() - quiet_for
        )
        .filter(Exists(pending))
        .exclude(Exists(recent))
        .values_list("pk", flat=True)
    )


def unbuilt_campaign_ids(*, quiet_for: datetime.timedelta) -> list[int]:
    """Sending campaigns started a while ago without a single delivery (start task lost)."""
    any_delivery = Delivery.objects.filter(campaign=OuterRef("pk"))
    return list(
        Campaign.objects.filter(
            status=CampaignStatus.SENDING, started_at__lt=timezone.now() - quiet_for
        )
        .exclude(Exists(any_delivery))
        .values_list("pk", flat=True)
    )


def due_campaigns(now: datetime.datetime | None = None):
    return Campaign.objects.filter(
        status=CampaignStatus.SCHEDULED, scheduled_at__lte=now or timezone.now()
    )
