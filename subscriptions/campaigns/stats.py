"""What a campaign's progress page and API report: counts by status and reason, send rate.

Counts read the live Delivery rows plus what the retention job archived (CampaignStatsArchive),
so a statistic keeps counting what it names after old rows are gone (rule 8).
"""

from __future__ import annotations

import datetime

from django.db.models import Count, Exists, OuterRef, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import Campaign, CampaignStatsArchive, ConsentEvent, Delivery
from ..models.choices import Action, DeliveryStatus, SkipReason

# The ledger actions that take someone off a campaign's list: one topic, or everything.
UNSUBSCRIBE_ACTIONS = (Action.UNSUBSCRIBED, Action.UNSUBSCRIBED_ALL)


def link_unsubscribers(campaign: Campaign):
    """The contacts who unsubscribed (from a topic or from all) through this campaign's own
    links: its unsubscribe page, one-click, or the preference page reached from its mail."""
    return ConsentEvent.objects.filter(campaign=campaign, action__in=UNSUBSCRIBE_ACTIONS).values(
        "contact_id"
    )


def esp_only_unsubscribes(deliveries):
    """Those of `deliveries` the ESP reported unsubscribed whose contact has no unsubscribe
    through the campaign's own links: each person counts once, whichever way was reported."""
    through_links = ConsentEvent.objects.filter(
        campaign=OuterRef("campaign_id"),
        contact=OuterRef("contact_id"),
        action__in=UNSUBSCRIBE_ACTIONS,
    )
    return deliveries.filter(unsubscribed_at__isnull=False).exclude(Exists(through_links))


def campaign_stats(campaign: Campaign) -> dict:
    """Progress counters: audience, pending (incl. claimed), sent, skipped (+by reason), failed.

    Deliveries the retention job archived still count. bounced / complained are what the ESP
    reported, on live rows plus archived counts; unsubscribed counts each person once who
    unsubscribed through this campaign's links (the ledger, never deleted) or whom the ESP
    reported unsubscribed (live rows plus archived counts of those the ledger did not have).
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
    archived = CampaignStatsArchive.objects.filter(campaign=campaign)
    for row in [*rows, *archived.outcome_rows()]:
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
    live = Delivery.objects.filter(campaign=campaign)
    feedback = live.feedback_counts()
    kept = archived.aggregate(
        bounced=Coalesce(Sum("bounced"), 0),
        complained=Coalesce(Sum("complained"), 0),
        unsubscribed=Coalesce(Sum("unsubscribed"), 0),
    )
    stats["bounced"] = feedback["bounced"] + kept["bounced"]
    stats["complained"] = feedback["complained"] + kept["complained"]
    stats["unsubscribed"] = (
        link_unsubscribers(campaign).distinct().count()
        + esp_only_unsubscribes(live).count()
        + kept["unsubscribed"]
    )
    return stats


def send_rate(campaign: Campaign, seconds: int = 60) -> float:
    """Messages per second sent for this campaign over the last `seconds`."""
    since = timezone.now() - datetime.timedelta(seconds=seconds)
    n = Delivery.objects.filter(campaign=campaign, sent_at__gte=since).count()
    return n / seconds
