"""What a campaign's progress page and API report: counts by status and reason, send rate.

Counts read the live Delivery rows plus what the retention job archived (CampaignStatsArchive),
so a statistic keeps counting what it names after old rows are gone (rule 8).
"""

from __future__ import annotations

import datetime

from django.db.models import Count
from django.utils import timezone

from ..models import Campaign, CampaignStatsArchive, Delivery
from ..models.choices import DeliveryStatus, SkipReason


def campaign_stats(campaign: Campaign) -> dict:
    """Progress counters: audience, pending (incl. claimed), sent, skipped (+by reason), failed.

    Deliveries the retention job archived still count; bounced / complained / unsubscribed come
    from the ESP's feedback on the live delivery rows.
    """
    rows = (
        Delivery.objects.filter(campaign=campaign)
        .values("status", "reason")
        .annotate(n=Count("pk"))
        .order_by()
    )
    stats = {
        "audience": 0,
        "pending": 0,
        "claimed": 0,
        "sent": 0,
        "skipped": 0,
        "skipped_by_reason": {},
        "failed": 0,
        "outcome_unknown": 0,
        "bounced": 0,
        "complained": 0,
        "unsubscribed": 0,
    }
    for row in [*rows, *CampaignStatsArchive.objects.filter(campaign=campaign).outcome_rows()]:
        status, n = row["status"], row["n"]
        stats["audience"] += n
        if status == DeliveryStatus.CLAIMED:
            stats["claimed"] += n
            stats["pending"] += n
        elif status in stats:
            stats[status] += n
        if status == DeliveryStatus.SKIPPED:
            by = stats["skipped_by_reason"]
            by[row["reason"]] = by.get(row["reason"], 0) + n
        if status == DeliveryStatus.FAILED and row["reason"] == SkipReason.OUTCOME_UNKNOWN:
            stats["outcome_unknown"] += n
    feedback = Delivery.objects.filter(campaign=campaign).feedback_counts()
    for key in ("bounced", "complained", "unsubscribed"):
        stats[key] = feedback[key]
    return stats


def send_rate(campaign: Campaign, seconds: int = 60) -> float:
    """Messages per second sent for this campaign over the last `seconds`."""
    since = timezone.now() - datetime.timedelta(seconds=seconds)
    n = Delivery.objects.filter(campaign=campaign, sent_at__gte=since).count()
    return n / seconds
