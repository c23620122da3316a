"""Claiming deliveries for sending, re-checking them, and giving back what was not sent.

    pending --claim--> claimed --no longer marketable--> skipped (reason)
    claimed, not sent (pause, transport down, shutdown) --release--> pending
    claimed, worker killed --recover_stale_claims--> failed (outcome_unknown), never resent

The claim is one UPDATE … FOR UPDATE SKIP LOCKED … RETURNING on PostgreSQL, and the re-check one
query over Contact.objects.marketable for the whole batch: the speed-up measured in
bench/README.md. Rule 1 is checked here at claim time and again before each stretch of send
calls (blocked_contacts); rule 4 holds because only rows still `claimed` are ever written.
"""

from __future__ import annotations

import datetime

from django.db import connection, transaction
from django.utils import timezone

from ..models import Campaign, Contact, Delivery
from ..models.choices import CampaignStatus, DeliveryStatus, SkipReason


def blocked_contacts(*, topic, contact_ids: list[int], campaign=None) -> dict[int, str]:
    """Among `contact_ids`, those no longer marketable on `topic`, with why.

    The verdict is Contact.objects.marketable() itself, restricted to these ids: one indexed
    query whatever the audience size. Only when someone is blocked does a second query name
    the reasons. Pass the `campaign` being sent, so its own claims never count against its
    recipients' frequency or cap.
    """
    if not contact_ids:
        return {}
    now = timezone.now()
    ok = set(
        Contact.objects.marketable(topic, at=now, campaign=campaign)
        .filter(pk__in=contact_ids)
        .values_list("pk", flat=True)
    )
    blocked_ids = [pk for pk in contact_ids if pk not in ok]
    return block_reasons(topic=topic, contact_ids=blocked_ids, at=now, campaign=campaign)


def block_reasons(
    *, topic, contact_ids: list[int], at: datetime.datetime, campaign=None
) -> dict[int, str]:
    """Why each of these contacts, found not marketable at `at`, is blocked: the first blocker of
    models.querysets.MARKETABILITY_BLOCKERS that applies (one query).

    A contact row deleted outright is as good as erased. One that no blocker names any more
    (its block lifted between the two queries) is left out: the caller keeps it undecided.
    """
    if not contact_ids:
        return {}
    rows = (
        Contact.objects.filter(pk__in=contact_ids)
        .with_block_reason(topic, at=at, campaign=campaign)
        .values_list("pk", "block_reason")
    )
    found = dict(rows)
    blocked = {pk: reason for pk, reason in found.items() if reason}
    blocked.update(dict.fromkeys(set(contact_ids) - found.keys(), SkipReason.ERASED))
    return blocked


def skip_blocked(deliveries: list[Delivery], blocked: dict[int, str]) -> list[Delivery]:
    """Mark the blocked ones skipped (one UPDATE per reason); return the others."""
    by_reason: dict[str, list[int]] = {}
    keep = []
    for delivery in deliveries:
        reason = blocked.get(delivery.contact_id)
        if reason:
            by_reason.setdefault(reason, []).append(delivery.pk)
        else:
            keep.append(delivery)
    for reason, ids in by_reason.items():
        Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.CLAIMED).update(
            status=DeliveryStatus.SKIPPED, reason=reason
        )
    return keep


# --- claim ----------------------------------------------------------------------------------------


def claim_batch(*, campaign: Campaign, size: int) -> list[Delivery]:
    """Move up to `size` pending deliveries to `claimed` and return those still marketable.

    Concurrent workers never claim the same row (FOR UPDATE SKIP LOCKED on PostgreSQL). The
    claimed contacts are re-checked in one query; the no-longer-marketable are marked skipped.
    Returned deliveries carry their contact (`delivery.contact`) for rendering.
    """
    return claim_with_count(campaign=campaign, size=size)[1]


def _claim_rows(campaign: Campaign, size: int, now: datetime.datetime) -> list[tuple[int, int]]:
    """Mark up to `size` pending deliveries claimed; their (id, contact_id), by id."""
    if connection.vendor == "postgresql":
        # One statement: pick, lock (skipping rows other workers hold) and claim.
        q = connection.ops.quote_name
        table = q(Delivery._meta.db_table)
        statement = (
            f"UPDATE {table} SET {q('status')} = %s, {q('claimed_at')} = %s"  # noqa: S608
            f" WHERE {q('id')} IN (SELECT {q('id')} FROM {table}"
            f" WHERE {q('campaign_id')} = %s AND {q('status')} = %s"
            f" ORDER BY {q('id')} LIMIT %s FOR UPDATE SKIP LOCKED)"
            f" RETURNING {q('id')}, {q('contact_id')}"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                statement,
                [DeliveryStatus.CLAIMED, now, campaign.pk, DeliveryStatus.PENDING, size],
            )
            return sorted(cursor.fetchall())
    # Portable fallback (SQLite in `make run`, where one writer holds the database anyway).
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(campaign=campaign, status=DeliveryStatus.PENDING)
            .order_by("pk")
            .values_list("pk", "contact_id")[:size]
        )
        Delivery.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            status=DeliveryStatus.CLAIMED, claimed_at=now
        )
    return rows


def claim_with_count(*, campaign: Campaign, size: int) -> tuple[int, list[Delivery]]:
    """claim_batch, also saying how many rows were claimed (the skipped ones included)."""
    now = timezone.now()
    rows = _claim_rows(campaign, size, now)
    if not rows:
        return 0, []
    # The re-check and the fetch in one query: the contacts still marketable, loaded to render.
    contacts = Contact.objects.marketable(campaign.topic, at=now, campaign=campaign).in_bulk(
        [contact_id for _, contact_id in rows]
    )
    deliveries = []
    for pk, contact_id in rows:
        delivery = Delivery(
            pk=pk,
            campaign=campaign,
            contact_id=contact_id,
            status=DeliveryStatus.CLAIMED,
            claimed_at=now,
        )
        if contact_id in contacts:
            delivery.contact = contacts[contact_id]
        deliveries.append(delivery)
    blocked_ids = [contact_id for _, contact_id in rows if contact_id not in contacts]
    blocked = block_reasons(
        topic=campaign.topic, contact_ids=blocked_ids, at=now, campaign=campaign
    )
    # Not loaded yet no longer blocked (a block lifted between the two queries): back to the
    # queue, to be claimed and checked again.
    undecided = [
        d for d in deliveries if d.contact_id not in contacts and d.contact_id not in blocked
    ]
    release_claims(undecided)
    decided = [d for d in deliveries if d.contact_id in contacts or d.contact_id in blocked]
    kept = skip_blocked(decided, blocked)
    return len(rows) - len(undecided), kept


def release_claims(deliveries: list[Delivery]) -> None:
    """Give never-sent claims back (pause, transport down): they were not attempted."""
    if deliveries:
        Delivery.objects.filter(
            pk__in=[d.pk for d in deliveries], status=DeliveryStatus.CLAIMED
        ).update(status=DeliveryStatus.PENDING, claimed_at=None)
        # A cancel that landed meanwhile already skipped the pending rows: skip these too.
        Delivery.objects.filter(
            pk__in=[d.pk for d in deliveries],
            status=DeliveryStatus.PENDING,
            campaign__status=CampaignStatus.CANCELLED,
        ).update(status=DeliveryStatus.SKIPPED, reason=SkipReason.CANCELLED)


def recover_stale_claims(
    *, campaign: Campaign | None = None, older_than: datetime.timedelta
) -> int:
    """Deliveries claimed longer ago than `older_than` (their worker died) become failed.

    Whether their message left is unknown, so they are never resent (rule 4): reason
    `outcome_unknown`. Returns how many.
    """
    stale = Delivery.objects.filter(
        status=DeliveryStatus.CLAIMED, claimed_at__lt=timezone.now() - older_than
    )
    if campaign is not None:
        stale = stale.filter(campaign=campaign)
    return stale.update(
        status=DeliveryStatus.FAILED,
        reason=SkipReason.OUTCOME_UNKNOWN,
        error="The worker stopped after claiming; the message may or may not have been sent.",
    )
