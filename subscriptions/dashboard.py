"""What the staff console's dashboard shows, each figure from the service that owns it.

Campaign rates come from campaigns.stats, complaint rates from feedback.reports, stalled
campaigns from campaigns.lifecycle; the ledger's gains and losses are one grouped query. The
page itself (admin/dashboard.py) only formats. Failed outbound webhooks are counted by
`failed_webhook_count`, outbound webhook deliveries in trouble.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from .campaigns.lifecycle import stalled_campaign_ids
from .campaigns.stats import campaign_stats
from .feedback.reports import ComplaintRate, complaint_rates_by_day
from .models import Campaign, ConsentEvent, Delivery, WebhookDelivery
from .models.choices import (
    CampaignStatus,
    DeliveryStatus,
    SubscriptionStatus,
    WebhookDeliveryStatus,
)

RECENT_CAMPAIGNS = 6
AUDIENCE_DAYS = 30
# A claim is a batch being sent; one that has not turned into sent mail within a minute is
# worth a look (its worker may be gone: campaigns/claims.py gives it back once its lease lapses).
STUCK_CLAIM_SECONDS = 60
# Gmail's bulk-sender lines: keep user-reported spam under 0.1 %, never reach 0.3 %.
GMAIL_COMPLAINT_TARGET = 0.001
GMAIL_COMPLAINT_LIMIT = 0.003


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


@dataclass(frozen=True)
class CampaignRates:
    """A campaign with its stats and the rates a marketer compares (percent of messages sent;
    None before anything was sent). Opens and clicks count only where the ESP reports them."""

    campaign: Campaign
    stats: dict
    delivered: float | None
    opened: float | None
    clicked: float | None
    unsubscribed: float | None
    complained: float | None


def campaign_rates(campaign: Campaign) -> CampaignRates:
    stats = campaign_stats(campaign)
    reported = Delivery.objects.filter(campaign=campaign).feedback_counts()
    sent = stats["sent"]
    return CampaignRates(
        campaign=campaign,
        stats=stats,
        delivered=_percent(reported["delivered"], sent),
        opened=_percent(reported["opened"], sent),
        clicked=_percent(reported["clicked"], sent),
        unsubscribed=_percent(stats["unsubscribed"], sent),
        complained=_percent(stats["complained"], sent),
    )


def recent_campaign_rates(limit: int = RECENT_CAMPAIGNS) -> list[CampaignRates]:
    """The campaigns that sent last (sending ones first), with their rates."""
    started = Campaign.objects.exclude(started_at=None).select_related("topic")
    return [campaign_rates(c) for c in started.order_by("-started_at", "-pk")[:limit]]


@dataclass(frozen=True)
class TopicChange:
    topic: str
    gained: int
    lost: int


def audience_changes(days: int = AUDIENCE_DAYS) -> list[TopicChange]:
    """Subscribers gained and lost per topic over the last `days`, from the ledger (one grouped
    query): gained is a row that made someone subscribed, lost one that took a subscribed
    person off (unsubscribe, unsubscribe-all, lapse, erasure)."""
    since = timezone.now() - datetime.timedelta(days=days)
    subscribed = SubscriptionStatus.SUBSCRIBED
    rows = (
        ConsentEvent.objects.filter(created_at__gte=since, topic__isnull=False)
        .values("topic__name")
        .annotate(
            gained=Count("pk", filter=Q(new_status=subscribed) & ~Q(old_status=subscribed)),
            lost=Count("pk", filter=Q(old_status=subscribed) & ~Q(new_status=subscribed)),
        )
        .order_by("topic__name")
    )
    return [
        TopicChange(topic=row["topic__name"], gained=row["gained"], lost=row["lost"])
        for row in rows
        if row["gained"] or row["lost"]
    ]


def complaint_rate_history(days: int = AUDIENCE_DAYS) -> list[tuple[datetime.date, ComplaintRate]]:
    """Complaints per message sent per day, oldest first (feedback.reports counts them)."""
    return sorted(complaint_rates_by_day(days=days))


@dataclass(frozen=True)
class StuckClaims:
    campaign_id: int
    campaign_name: str
    claims: int
    oldest: datetime.datetime


def stuck_claims(older_than: int = STUCK_CLAIM_SECONDS) -> list[StuckClaims]:
    """Per campaign, deliveries claimed for sending more than `older_than` seconds ago."""
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than)
    rows = (
        Delivery.objects.filter(status=DeliveryStatus.CLAIMED, claimed_at__lt=cutoff)
        .values("campaign_id", "campaign__name")
        .annotate(claims=Count("pk"), oldest=Min("claimed_at"))
        .order_by("oldest")
    )
    return [
        StuckClaims(
            campaign_id=row["campaign_id"],
            campaign_name=row["campaign__name"],
            claims=row["claims"],
            oldest=row["oldest"],
        )
        for row in rows
    ]


def stalled_campaigns() -> list[Campaign]:
    """Sending campaigns with work left and no progress for SEND_STALLED_SECONDS."""
    quiet = datetime.timedelta(seconds=settings.SEND_STALLED_SECONDS)
    return list(Campaign.objects.filter(pk__in=stalled_campaign_ids(quiet_for=quiet)))


# How long a delivery that gave up stays on the dashboard.
GAVE_UP_SHOWN_FOR = datetime.timedelta(days=7)


def failed_webhook_count() -> int:
    """Outbound webhook deliveries failing now (retrying) or given up in the last week."""
    since = timezone.now() - GAVE_UP_SHOWN_FOR
    return WebhookDelivery.objects.filter(
        Q(status=WebhookDeliveryStatus.FAILED)
        | Q(status=WebhookDeliveryStatus.GAVE_UP, last_attempt_at__gte=since)
    ).count()


@dataclass(frozen=True)
class Dashboard:
    campaigns: list[CampaignRates]
    audience: list[TopicChange]
    complaint_history: list[tuple[datetime.date, ComplaintRate]]
    stuck: list[StuckClaims]
    stalled: list[Campaign]
    failed_webhooks: int | None
    sending: int = field(default=0)


def dashboard_build() -> Dashboard:
    return Dashboard(
        campaigns=recent_campaign_rates(),
        audience=audience_changes(),
        complaint_history=complaint_rate_history(),
        stuck=stuck_claims(),
        stalled=stalled_campaigns(),
        failed_webhooks=failed_webhook_count(),
        sending=Campaign.objects.filter(status=CampaignStatus.SENDING).count(),
    )
