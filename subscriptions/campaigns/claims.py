"""Claiming deliveries for sending, re-checking them, and giving back what was not sent.

    pending --claim--> claimed --no longer marketable--> skipped (reason)
    claimed, not sent (pause, transport down, shutdown) --release--> pending
    claimed --mark_in_flight (just before its send call)--> claimed, in flight
    holder gone or lease lapsed (claims_recover): not in flight --> pending, at once;
        in flight --> failed (outcome_unknown), never resent

The claim is one UPDATE … FOR UPDATE SKIP LOCKED … RETURNING on PostgreSQL, and the re-check one
query over Contact.objects.marketable for the whole batch: the speed-up measured in
bench/README.md. Rule 1 is checked here at claim time and again before each stretch of send
calls (blocked_contacts). Rule 4 holds because a claim names its holder (worker_id) and every
write of a sending process is conditional on the row still being `claimed` by that holder: a
claim recovered from under a slow holder is never sent by it, and a delivery marked in flight
never goes back to pending.
"""

from __future__ import annotations

import datetime
import os
import socket
import uuid

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Campaign, Contact, Delivery
from ..models.choices import CampaignStatus, DeliveryStatus, SkipReason

# A claim's lease: renewed every CLAIM_RENEW_SECONDS by the process holding it (its heartbeat and
# its send loop), lapsed after CLAIM_LEASE_SECONDS without renewal (the process is gone or hung).
CLAIM_LEASE_SECONDS = 30
CLAIM_RENEW_SECONDS = 10

_boot = {"pid": None, "id": ""}


def worker_id() -> str:
    """This process as a claim holder: `host:pid:boot`, new in every process (forks included)."""
    pid = os.getpid()
    if _boot["pid"] != pid:
        _boot.update(pid=pid, id=f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:8]}")
    return _boot["id"]


def holder_is_gone(holder: str) -> bool:
    """Whether the process named by this claim holder has surely ended (same host only).

    A holder of another host cannot be asked: its lease says whether it lives.
    """
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or holder == worker_id():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, but another user's
        return False
    return False


def _lease(now: datetime.datetime) -> datetime.datetime:
    return now + datetime.timedelta(seconds=CLAIM_LEASE_SECONDS)


def mine(queryset):
    """Restrict to rows this process still holds as claims."""
    return queryset.filter(status=DeliveryStatus.CLAIMED, claimed_by=worker_id())


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
        mine(Delivery.objects.filter(pk__in=ids)).update(
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
            f"UPDATE {table} SET {q('status')} = %s, {q('claimed_at')} = %s,"  # noqa: S608
            f" {q('claimed_by')} = %s, {q('lease_until')} = %s, {q('in_flight_at')} = NULL"
            f" WHERE {q('id')} IN (SELECT {q('id')} FROM {table}"
            f" WHERE {q('campaign_id')} = %s AND {q('status')} = %s"
            f" ORDER BY {q('id')} LIMIT %s FOR UPDATE SKIP LOCKED)"
            f" RETURNING {q('id')}, {q('contact_id')}"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                statement,
                [
                    DeliveryStatus.CLAIMED,
                    now,
                    worker_id(),
                    _lease(now),
                    campaign.pk,
                    DeliveryStatus.PENDING,
                    size,
                ],
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
            status=DeliveryStatus.CLAIMED,
            claimed_at=now,
            claimed_by=worker_id(),
            lease_until=_lease(now),
            in_flight_at=None,
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
        mine(Delivery.objects.filter(pk__in=[d.pk for d in deliveries])).update(**_UNCLAIMED)
        # A cancel that landed meanwhile already skipped the pending rows: skip these too.
        Delivery.objects.filter(
            pk__in=[d.pk for d in deliveries],
            status=DeliveryStatus.PENDING,
            campaign__status=CampaignStatus.CANCELLED,
        ).update(status=DeliveryStatus.SKIPPED, reason=SkipReason.CANCELLED)


_UNCLAIMED = {
    "status": DeliveryStatus.PENDING,
    "claimed_at": None,
    "claimed_by": "",
    "lease_until": None,
    "in_flight_at": None,
}
UNKNOWN_ERROR = (
    "The worker stopped during the send call; the message may or may not have been sent."
)


def mark_in_flight(deliveries: list[Delivery]) -> list[Delivery]:
    """Record that these are about to be handed to the transport; those still held, to send.

    One UPDATE per send call. A delivery this process no longer holds (recovered after its
    lease lapsed) is left out: someone else may send it now.
    """
    if not deliveries:
        return []
    ids = [d.pk for d in deliveries]
    marked = mine(Delivery.objects.filter(pk__in=ids)).update(in_flight_at=timezone.now())
    if marked == len(ids):
        return deliveries
    held = set(
        mine(Delivery.objects.filter(pk__in=ids, in_flight_at__isnull=False)).values_list(
            "pk", flat=True
        )
    )
    return [d for d in deliveries if d.pk in held]


def claims_renew() -> int:
    """Extend the lease of every claim this process holds (one UPDATE); how many."""
    now = timezone.now()
    return mine(Delivery.objects.all()).update(lease_until=_lease(now))


def claims_recover(*, holders: list[str] | None = None, lapsed: bool = True) -> set[int]:
    """Take back the claims of processes that are gone; the campaigns touched.

    Claims of `holders`, and with `lapsed` every claim whose lease ran out (or, claimed before
    leases existed, older than STALE_CLAIM_SECONDS): not in flight, they go back to pending at
    once (they were never handed to the transport); in flight, they become failed with
    `outcome_unknown` and are never resent (rule 4). Two statements whatever the number.
    """
    now = timezone.now()
    gone = Q(claimed_by__in=holders or [])
    if lapsed:
        stale = now - datetime.timedelta(seconds=settings.STALE_CLAIM_SECONDS)
        gone |= Q(lease_until__lt=now) | Q(lease_until__isnull=True, claimed_at__lt=stale)
    claims = Delivery.objects.filter(gone, status=DeliveryStatus.CLAIMED)
    campaign_ids = set(claims.values_list("campaign_id", flat=True).distinct())
    if not campaign_ids:
        return set()
    claims.filter(in_flight_at__isnull=False).update(
        status=DeliveryStatus.FAILED, reason=SkipReason.OUTCOME_UNKNOWN, error=UNKNOWN_ERROR
    )
    claims.filter(in_flight_at__isnull=True).update(**_UNCLAIMED)
    Delivery.objects.filter(
        campaign__in=campaign_ids,
        status=DeliveryStatus.PENDING,
        campaign__status=CampaignStatus.CANCELLED,
    ).update(status=DeliveryStatus.SKIPPED, reason=SkipReason.CANCELLED)
    return campaign_ids


def claims_give_back() -> set[int]:
    """This process's own claims, once none of its send loops runs (a task retrying after an
    outage): recovered as if it had died. The campaigns touched."""
    return claims_recover(holders=[worker_id()], lapsed=False)


def gone_holders() -> list[str]:
    """Holders of claims on this host whose process has ended (a worker killed, then restarted)."""
    holders = (
        Delivery.objects.filter(status=DeliveryStatus.CLAIMED)
        .filter(claimed_by__startswith=f"{socket.gethostname()}:")
        .values_list("claimed_by", flat=True)
        .distinct()
    )
    return [h for h in holders if holder_is_gone(h)]
