"""Writing the consent ledger: the one place a ConsentEvent is created."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connection, transaction

from ..models import Campaign, ConsentEvent, Contact, LedgerCheckpoint, Topic
from ..models.ledger import HASHED_FIELDS
from ..models.policy import current_policy_version
from ..ratelimit import client_ip
from .events import ledger_row_emit

logger = logging.getLogger(__name__)

# Rows fetched per round trip when streaming the ledger.
CHUNK_SIZE = 5000
# pg_advisory_xact_lock(key1, key2) key naming the checkpoint writer: one at a time.
CHECKPOINT_LOCK = 1_346_372_940


def minimise_ip(raw: str | None) -> str | None:
    """Keep only the network part of an address: IPv4 /24, IPv6 /48."""
    if not raw:
        return None
    try:
        ip = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@dataclass(frozen=True)
class Actor:
    """Who did something and how: the provenance every ledger row carries.

    Build it once per request, task or command and pass it to the services.
    """

    source: str
    ip_address: str | None = None
    user_agent: str = ""
    wording: str = ""
    evidence: str = ""
    actor: str = ""
    staff_user: object | None = None
    extra: dict = field(default_factory=dict)
    # The policy version shown when the person acted, when that was earlier than the write
    # (a public form's queued task); empty: the version in force when the row is written.
    policy_version: str = ""
    # The campaign whose unsubscribe or preference link the person acted through (its id, read
    # from the signed link): the ledger row names it, and that campaign's statistics count it.
    campaign_id: int | None = None

    @classmethod
    def from_request(cls, request, source: str, **kwargs) -> Actor:
        # The visitor's address, not a trusted proxy's (TRUSTED_PROXIES), as rate limits see it.
        ip = client_ip(request)
        ua = request.META.get("HTTP_USER_AGENT", "")[:300]
        return cls(
            source=source, ip_address=None if ip == "unknown" else ip, user_agent=ua, **kwargs
        )


def record(
    *,
    contact: Contact,
    action: str,
    by: Actor,
    topic: Topic | None = None,
    old_status: str = "",
    new_status: str = "",
    campaign_id: int | None = None,
) -> ConsentEvent:
    """Append one row to the ledger. Call inside the transaction that made the change.

    `campaign_id` (default: the actor's) names the campaign whose link was used; a campaign
    deleted since the link was mailed is left out rather than refusing the change.

    On PostgreSQL the database sets the row's id, created_at and hash chain (migration 0009);
    the returned instance carries them. The row's outbound events (subscription.changed, ...)
    are written with it.
    """
    staff = by.staff_user if getattr(by.staff_user, "pk", None) else None
    campaign_id = campaign_id or by.campaign_id
    if campaign_id is not None and not Campaign.objects.filter(pk=campaign_id).exists():
        campaign_id = None
    row = ConsentEvent.objects.create(
        contact=contact,
        topic=topic,
        action=action,
        old_status=old_status or "",
        new_status=new_status or "",
        source=by.source,
        policy_version=by.policy_version or current_policy_version(),
        wording=by.wording,
        ip_address=minimise_ip(by.ip_address),
        user_agent=by.user_agent[:300],
        evidence=by.evidence,
        actor=by.actor or (staff.get_username() if staff else ""),
        staff_user=staff,
        campaign_id=campaign_id,
    )
    # The outbound events it stands for, in the same transaction (consent.events).
    ledger_row_emit(row=row, contact=contact)
    return row


# --- proof: hash chains and checkpoints -------------------------------------------------------
#
# The database writes the chain (migration 0009's insert trigger); the functions below only read
# it back. row_digest repeats the trigger's serialisation in Python, so verification does not
# trust any function stored in the database it checks.


def _field_text(value: object) -> str:
    if value is None:
        return "~"
    if isinstance(value, datetime.datetime):
        value = value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = str(value)
    return f"{len(text)}:{text}"


def row_digest(row: dict) -> str:
    """The sha256 (hex) the insert trigger stores for a row with these HASHED_FIELDS values."""
    payload = "|".join(_field_text(row[name]) for name in HASHED_FIELDS)
    return hashlib.sha256(payload.encode()).hexdigest()


def checkpoint_digest(*, prev_hash: str, row_hashes: Iterable[str]) -> tuple[str, int]:
    """Hash of a checkpoint: its predecessor's hash, then each covered row's hash in id order.

    Returns (hash, number of rows).
    """
    digest = hashlib.sha256(prev_hash.encode())
    count = 0
    for row_hash in row_hashes:
        digest.update(b"|" + row_hash.encode())
        count += 1
    return digest.hexdigest(), count


def _covered_hashes(xact_from: int, xact_to: int) -> Iterator[str]:
    rows = ConsentEvent.objects.filter(xact_id__gte=xact_from, xact_id__lt=xact_to).order_by("id")
    return rows.values_list("hash", flat=True).iterator(chunk_size=CHUNK_SIZE)


def ledger_checkpoint() -> LedgerCheckpoint | None:
    """Seal every ledger row written by a finished transaction since the last checkpoint.

    A row's transaction may commit long after its id was taken (an import running for minutes),
    so a checkpoint never covers an id range: it covers the transactions older than the
    oldest one still running (the snapshot's xmin), all of which have committed or rolled back,
    so nothing can be added to its range later. Returns None when there is nothing new to seal.
    PostgreSQL only (the chain trigger exists only there).
    """
    if connection.vendor != "postgresql":
        return None
    with transaction.atomic():
        with connection.cursor() as cursor:
            # One checkpoint writer at a time (two beats, or the task and the command).
            cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [CHECKPOINT_LOCK])
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            horizon = cursor.fetchone()[0]
        last = LedgerCheckpoint.objects.order_by("-id").first()
        start = last.xact_to if last else 0
        if horizon <= start:
            return None
        covered = ConsentEvent.objects.filter(xact_id__gte=start, xact_id__lt=horizon)
        last_event_id = covered.order_by("-id").values_list("id", flat=True).first()
        if last_event_id is None:
            return None
        prev_hash = last.hash if last else ""
        digest, count = checkpoint_digest(
            prev_hash=prev_hash, row_hashes=_covered_hashes(start, horizon)
        )
        checkpoint = LedgerCheckpoint.objects.create(
            xact_from=start,
            xact_to=horizon,
            row_count=count,
            last_event_id=last_event_id,
            prev_hash=prev_hash,
            hash=digest,
        )
    # Logged so a copy of each seal lives outside the database it seals.
    logger.info("ledger checkpoint %s: %s rows, hash %s", checkpoint.pk, count, digest)
    return checkpoint


@dataclass(frozen=True)
class LedgerBreak:
    """One place where the ledger does not prove itself."""

    kind: str  # one of BREAK_KINDS
    detail: str
    contact_id: int | None = None
    event_id: int | None = None
    checkpoint_id: int | None = None

    def __str__(self) -> str:
        where = []
        if self.checkpoint_id is not None:
            where.append(f"checkpoint {self.checkpoint_id}")
        if self.contact_id is not None:
            where.append(f"contact {self.contact_id}")
        if self.event_id is not None:
            where.append(f"row {self.event_id}")
        return f"{', '.join(where)}: {self.kind} ({self.detail})"


BREAK_KINDS = ("altered", "deleted", "inserted out of order", "back-dated", "checkpoint")


def _chain_breaks(rows: Iterable[dict]) -> Iterator[LedgerBreak]:
    """Walk rows ordered by (contact_id, id) and yield every link that does not hold."""
    contact_id = None
    previous: dict | None = None
    seen: set[str] = set()
    for row in rows:
        if row["contact_id"] != contact_id:
            contact_id, previous, seen = row["contact_id"], None, set()
        where = {"contact_id": contact_id, "event_id": row["id"]}
        if row_digest(row) != row["hash"]:
            yield LedgerBreak("altered", "its facts do not match its hash", **where)
        expected = previous["hash"] if previous else ""
        if row["prev_hash"] != expected:
            if row["prev_hash"] in seen or (previous and row["prev_hash"] == ""):
                yield LedgerBreak(
                    "inserted out of order",
                    "it links to an earlier row, not its predecessor",
                    **where,
                )
            else:
                yield LedgerBreak("deleted", "the row it links to is missing", **where)
        # Rows chained before migration 0009 (xact_id 0) carry the app's own clock.
        if previous and row["xact_id"] and row["created_at"] < previous["created_at"]:
            yield LedgerBreak(
                "back-dated",
                f"created {row['created_at']:%Y-%m-%d %H:%M:%S}, before row {previous['id']}",
                **where,
            )
        seen.add(row["hash"])
        previous = row


def _checkpoint_breaks(
    checkpoints: Iterable[LedgerCheckpoint], progress: Callable[[int], object]
) -> Iterator[LedgerBreak]:
    previous: LedgerCheckpoint | None = None
    for checkpoint in checkpoints:
        where = {"checkpoint_id": checkpoint.pk}
        expected_from = previous.xact_to if previous else 0
        expected_prev = previous.hash if previous else ""
        if checkpoint.xact_from != expected_from or checkpoint.prev_hash != expected_prev:
            yield LedgerBreak("checkpoint", "it does not follow the previous checkpoint", **where)
        hashes = _covered_hashes(checkpoint.xact_from, checkpoint.xact_to)
        digest, count = checkpoint_digest(prev_hash=checkpoint.prev_hash, row_hashes=hashes)
        progress(count)
        if count != checkpoint.row_count:
            kind = "deleted" if count < checkpoint.row_count else "inserted out of order"
            yield LedgerBreak(
                kind, f"it sealed {checkpoint.row_count} rows, {count} are there now", **where
            )
        elif digest != checkpoint.hash:
            yield LedgerBreak("altered", "a row it sealed has changed", **where)
        previous = checkpoint


def ledger_verify(*, progress: Callable[[int], object] | None = None) -> list[LedgerBreak]:
    """Recompute every contact's hash chain and every checkpoint; return what does not hold.

    Finds a row whose facts were altered, a deleted row (a gap in a chain, or fewer rows than a
    checkpoint sealed), a row inserted out of order, and a back-dated row. Streams the ledger
    with a server-side cursor, so a ledger of millions of rows needs little memory.
    `progress(n)` is called as rows are checked (for a progress bar). Empty on SQLite (no chain).
    """
    if connection.vendor != "postgresql":
        return []
    progress = progress or (lambda n: None)
    fields = tuple(dict.fromkeys((*HASHED_FIELDS, "hash", "xact_id")))

    def rows() -> Iterator[dict]:
        ordered = ConsentEvent.objects.order_by("contact_id", "id").values(*fields)
        for row in ordered.iterator(chunk_size=CHUNK_SIZE):
            progress(1)
            yield row

    # Outside any transaction a server-side cursor needs one (Django opens it per iterator).
    with transaction.atomic():
        breaks = list(_chain_breaks(rows()))
        checkpoints = LedgerCheckpoint.objects.order_by("id").iterator(chunk_size=CHUNK_SIZE)
        breaks += list(_checkpoint_breaks(checkpoints, progress))
    return breaks
