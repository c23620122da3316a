"""The audience of a campaign: one pending Delivery per contact marketable when it starts.

Built set-based (INSERT … SELECT over campaign_audience(): Contact.objects.marketable narrowed by
the campaign's segment, in the same statement), split across connections for
large audiences; bench/README.md has the figures behind AUDIENCE_SPLIT_MIN_IDS and the split.
Marketability is checked again at claim time and before each send (subscriptions.campaigns.claims).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection
from django.db.models import Max, Min

from ..models import Campaign, Contact, Delivery
from ..models.choices import DeliveryStatus
from ..models.querysets import ContactQuerySet
from .segments import segment_filter

# Below this span of contact ids one statement is as quick as several.
AUDIENCE_SPLIT_MIN_IDS = 100_000


def campaign_audience(*, campaign: Campaign) -> ContactQuerySet:
    """The contacts the campaign is for now: marketable on its topic, narrowed by its segment.

    The one selection the audience build inserts, the Review step counts and an export reads;
    a filter only, so it nests inside the build's single INSERT … SELECT.
    """
    marketable = Contact.objects.marketable(campaign.topic)
    if campaign.segment_id is None:
        return marketable
    return marketable.filter(segment_filter(campaign.segment.rules, topic=campaign.topic))


def campaign_build_audience(*, campaign: Campaign) -> int:
    """Create a pending Delivery for every contact of campaign_audience() now: marketable on
    the campaign's topic and, with a segment, matching it.

    Set-based INSERT … SELECT; idempotent (existing deliveries are kept as they are), so
    calling it again after new subscriptions only adds the newcomers. Returns rows added.

    A large audience is built by AUDIENCE_BUILD_CONNECTIONS statements at once, each over its
    own range of contact ids on its own connection, so PostgreSQL inserts on several cores
    (one statement spends most of its time in index upkeep and foreign-key checks, on one
    core). Inside a transaction it is one statement on the caller's connection. Should one
    range fail, the others stay built; the call raises, and building again completes it.
    """
    parts = settings.AUDIENCE_BUILD_CONNECTIONS
    if parts > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        bounds = Contact.objects.aggregate(low=Min("id"), high=Max("id"))
        low, high = bounds["low"], bounds["high"]
        if low is not None and high - low >= AUDIENCE_SPLIT_MIN_IDS:
            step = (high - low) // parts + 1
            ranges = [(low + i * step, low + (i + 1) * step) for i in range(parts)]
            with ThreadPoolExecutor(max_workers=parts) as pool:
                return sum(pool.map(lambda r: _build_range(campaign, r), ranges))
    return _insert_audience(campaign, campaign_audience(campaign=campaign))


def _build_range(campaign: Campaign, id_range: tuple[int, int]) -> int:
    """One range of the audience, on this thread's own database connection."""
    try:
        low, high = id_range
        audience = campaign_audience(campaign=campaign).filter(pk__gte=low, pk__lt=high)
        return _insert_audience(campaign, audience)
    finally:
        connection.close()


def _insert_audience(campaign: Campaign, audience: ContactQuerySet) -> int:
    sql, params = audience.order_by().values("id").query.sql_with_params()
    q = connection.ops.quote_name
    table = q(Delivery._meta.db_table)
    # `WHERE true` lets SQLite tell the upsert clause from a join constraint.
    columns = ", ".join(
        q(name)
        for name in ("campaign_id", "contact_id", "status", "reason", "error", "esp_message_id")
    )
    statement = " ".join(
        [
            f"INSERT INTO {table} ({columns})",
            f"SELECT %s, m.{q('id')}, %s, '', '', '' FROM ({sql}) m WHERE true",  # noqa: S608
            f"ON CONFLICT ({q('campaign_id')}, {q('contact_id')}) DO NOTHING",
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [campaign.pk, DeliveryStatus.PENDING, *params])
        return max(cursor.rowcount, 0)
