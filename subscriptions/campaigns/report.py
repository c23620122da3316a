"""The figures of a campaign's Review step and of its live progress and report.

Every count here is one SQL statement over the rows it names (no Python loop over recipients):
the audience counted with the very QuerySet that builds it, the skipped grouped by the blocker
that keeps each subscriber out, messages per minute grouped over Delivery.sent_at. The delivery
counters themselves come from campaigns.stats.campaign_stats, the one source the API reads too.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef
from django.db.models.functions import TruncMinute
from django.utils import timezone

from ..models import Campaign, Contact, Delivery, SoftBounce, Subscription
from ..models.choices import CampaignStatus, DeliveryStatus, SkipReason
from .audience import campaign_audience
from .stats import campaign_stats

# The window the live rate is measured over, and the most minutes the chart shows.
RATE_WINDOW = datetime.timedelta(minutes=2)
CHART_MINUTES = 240


@dataclass(frozen=True)
class AudienceReview:
    audience: int
    # Subscribers of the topic (any status) left out now, by SkipReason value, largest first.
    skipped_by_reason: list[tuple[str, str, int]]  # (reason, its label, count)

    @property
    def skipped(self) -> int:
        return sum(n for _reason, _label, n in self.skipped_by_reason)


def campaign_review(campaign: Campaign) -> AudienceReview:
    """Who the campaign would go to if it started now, and who on the topic it would leave out
    and why (the first blocker of MARKETABILITY_BLOCKERS that applies: one grouped query)."""
    audience = campaign_audience(campaign=campaign).order_by().count()
    on_topic = Subscription.objects.filter(contact=OuterRef("pk"), topic=campaign.topic)
    rows = (
        Contact.objects.filter(Exists(on_topic))
        .with_block_reason(campaign.topic)
        .exclude(block_reason="")
        .values("block_reason")
        .annotate(n=Count("pk"))
        .order_by("-n")
    )
    labels = dict(SkipReason.choices)
    return AudienceReview(
        audience=audience,
        skipped_by_reason=[
            (
                row["block_reason"],
                str(labels.get(row["block_reason"], row["block_reason"])),
                row["n"],
            )
            for row in rows
        ],
    )


def sends_per_minute(campaign: Campaign) -> list[dict]:
    """[{minute: ISO time, sent: n}] of the campaign's last CHART_MINUTES minutes of sending."""
    rows = (
        Delivery.objects.filter(campaign=campaign, sent_at__isnull=False)
        .annotate(minute=TruncMinute("sent_at"))
        .values("minute")
        .annotate(n=Count("pk"))
        .order_by("-minute")[:CHART_MINUTES]
    )
    return [
        {"minute": row["minute"].isoformat().replace("+00:00", "Z"), "sent": row["n"]}
        for row in reversed(list(rows))
    ]


def soft_bounced(campaign: Campaign) -> int:
    """Recipients of the campaign whose address soft-bounced (a temporary failure the ESP
    reported) since it started: soft bounces are recorded per address, not per message."""
    if campaign.started_at is None:
        return 0
    recipients = Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).values(
        "contact__address_hash"
    )
    return (
        SoftBounce.objects.filter(occurred_at__gte=campaign.started_at, address_hash__in=recipients)
        .values("address_hash")
        .distinct()
        .count()
    )


# Statuses whose figures still move: the page keeps polling.
LIVE_STATUSES = (CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED)


def send_rate_per_minute(campaign: Campaign, sent: int) -> float:
    """Messages per minute: over the last RATE_WINDOW while the campaign is live, over its
    whole run (start to finish) once it is over."""
    if campaign.status not in LIVE_STATUSES:
        if not (sent and campaign.started_at and campaign.finished_at):
            return 0.0
        minutes = max((campaign.finished_at - campaign.started_at).total_seconds(), 1) / 60
        return sent / minutes
    since = timezone.now() - RATE_WINDOW
    recent = Delivery.objects.filter(campaign=campaign, sent_at__gte=since).count()
    return recent / (RATE_WINDOW.total_seconds() / 60)


def campaign_progress(campaign: Campaign) -> dict:
    """Everything the progress and report page shows, as plain JSON-ready data.

    `done_percent` counts every resolved delivery (sent, skipped, failed) against the audience;
    `rate_per_minute` is send_rate_per_minute; `seconds_left` is the pending work at that rate
    (None when nothing is moving).
    """
    stats = campaign_stats(campaign)
    feedback = Delivery.objects.filter(campaign=campaign).feedback_counts()
    resolved = stats["sent"] + stats["skipped"] + stats["failed"]
    audience = stats["audience"]
    sent = stats["sent"]
    rate = send_rate_per_minute(campaign, sent)
    moving = campaign.status == CampaignStatus.SENDING and rate > 0
    labels = dict(SkipReason.choices)
    return {
        "status": campaign.status,
        "status_label": campaign.get_status_display(),
        "live": campaign.status in LIVE_STATUSES,
        "stats": stats,
        "skipped_reasons": [
            [str(labels.get(reason, reason)), n]
            for reason, n in sorted(stats["skipped_by_reason"].items(), key=lambda kv: -kv[1])
        ],
        "done_percent": round(100 * resolved / audience, 1) if audience else 0.0,
        "rate_per_minute": round(rate, 1),
        "seconds_left": round(stats["pending"] / rate * 60) if moving else None,
        "per_minute": sends_per_minute(campaign),
        "delivered": feedback["delivered"],
        "opened": feedback["opened"],
        "clicked": feedback["clicked"],
        "soft_bounced": soft_bounced(campaign),
        "rates": {
            name: round(100 * stats[name] / sent, 2) if sent else 0.0
            for name in ("bounced", "complained", "unsubscribed")
        },
    }


FAILURE_COLUMNS = ("email", "status", "reason", "error", "claimed_at")


def campaign_failures(campaign: Campaign) -> Iterator[tuple]:
    """Who the campaign failed to reach and why (FAILURE_COLUMNS), streamed from the database."""
    rows = (
        Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.FAILED)
        .order_by("pk")
        .values_list("contact__email", "status", "reason", "error", "claimed_at")
    )
    for email, status, reason, error, claimed_at in rows.iterator(chunk_size=2000):
        yield (email, status, reason, error, claimed_at.isoformat() if claimed_at else "")
