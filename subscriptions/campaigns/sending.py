"""Campaign sending: audience build, batch claim, send, outcome recording, life cycle.

The Delivery row is both the progress record and the idempotency key (rule 4):

    pending --claim_batch--> claimed --accepted--> sent
                                     \\--refused--> failed (error)
                                     \\--no longer marketable--> skipped (reason)
                                     \\--ESP's answer lost--> failed (outcome_unknown)
    claimed, worker killed --recover_stale_claims--> failed (outcome_unknown), never resent

Marketability (rule 1) is checked when the audience is built, again for the whole batch at
claim time, and again right before the send calls (at least once per SEND_RECHECK_SECONDS).
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    TextField,
    Value,
    When,
)
from django.utils import timezone

from ..models import Campaign, Contact, Delivery, Subscription
from ..models.choices import CampaignStatus, DeliveryStatus
from ..models.querysets import address_suppressed, under_age_q
from .esp_batch import (
    RETRY,
    SENT,
    UNKNOWN,
    Parallel,
    PostmarkBatch,
    TransportUnavailable,
    has_batch_api,
    open_sender,
)
from .messages import (
    CompiledCampaign,
    MarketingMessage,
    check_from_email,
    compile_campaign,
    render_marketing_message,
)

log = logging.getLogger(__name__)

# Reasons a delivery is skipped, in the order they are reported when several apply.
ERASED = "erased"
SUPPRESSED = "suppressed"
UNSUBSCRIBED = "unsubscribed"
PAUSED = "paused"
UNDER_AGE = "under_age"
CANCELLED = "cancelled"
OUTCOME_UNKNOWN = "outcome_unknown"

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


class SendingUnavailable(Exception):
    """The mail transport could not be reached; nothing was sent, claims were released."""


# --- audience -----------------------------------------------------------------------------------


# Below this span of contact ids one statement is as quick as several.
AUDIENCE_SPLIT_MIN_IDS = 100_000


def campaign_build_audience(*, campaign: Campaign) -> int:
    """Create a pending Delivery for every contact marketable on the campaign's topic now.

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
    return _insert_audience(campaign, Contact.objects.marketable(campaign.topic))


def _build_range(campaign: Campaign, id_range: tuple[int, int]) -> int:
    """One range of the audience, on this thread's own database connection."""
    try:
        low, high = id_range
        marketable = Contact.objects.marketable(campaign.topic).filter(pk__gte=low, pk__lt=high)
        return _insert_audience(campaign, marketable)
    finally:
        connection.close()


def _insert_audience(campaign: Campaign, marketable) -> int:
    sql, params = marketable.order_by().values("id").query.sql_with_params()
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


# --- marketability re-check ---------------------------------------------------------------------


def blocked_contacts(*, topic, contact_ids: list[int]) -> dict[int, str]:
    """Among `contact_ids`, those no longer marketable on `topic`, with why.

    The verdict is Contact.objects.marketable() itself, restricted to these ids: one indexed
    query whatever the audience size. Only when someone is blocked does a second query name
    the reasons.
    """
    if not contact_ids:
        return {}
    now = timezone.now()
    ok = set(
        Contact.objects.marketable(topic, at=now)
        .filter(pk__in=contact_ids)
        .values_list("pk", flat=True)
    )
    return _block_reasons(topic, [pk for pk in contact_ids if pk not in ok], now)


def _block_reasons(topic, blocked_ids: list[int], now: datetime.datetime) -> dict[int, str]:
    """Why each of these contacts, found not marketable at `now`, is blocked."""
    if not blocked_ids:
        return {}
    subscribed = Subscription.objects.filter(
        contact=OuterRef("pk"), topic=topic, status="subscribed"
    )
    rows = (
        Contact.objects.filter(pk__in=blocked_ids)
        .annotate(
            is_subscribed=Exists(subscribed),
            is_paused=Exists(subscribed.filter(paused_until__gt=now)),
            is_suppressed=ExpressionWrapper(address_suppressed(), output_field=BooleanField()),
            is_under_age=ExpressionWrapper(
                under_age_q(timezone.localdate(now)), output_field=BooleanField()
            ),
        )
        .values_list(
            "pk", "erased_at", "is_suppressed", "is_subscribed", "is_paused", "is_under_age"
        )
    )
    blocked = {}
    for pk, erased_at, suppressed, is_subscribed, paused, under_age in rows:
        if erased_at is not None:
            blocked[pk] = ERASED
        elif suppressed:
            blocked[pk] = SUPPRESSED
        elif not is_subscribed:
            blocked[pk] = UNSUBSCRIBED
        elif paused:
            blocked[pk] = PAUSED
        elif under_age:
            blocked[pk] = UNDER_AGE
        else:
            blocked[pk] = UNSUBSCRIBED
    # A contact row deleted outright is as good as erased.
    blocked.update(dict.fromkeys(set(blocked_ids) - blocked.keys(), ERASED))
    return blocked


def _skip(deliveries: list[Delivery], blocked: dict[int, str]) -> list[Delivery]:
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
    return _claim(campaign, size)[1]


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


def _claim(campaign: Campaign, size: int) -> tuple[int, list[Delivery]]:
    """claim_batch, also saying how many rows were claimed (skipped ones included)."""
    now = timezone.now()
    rows = _claim_rows(campaign, size, now)
    if not rows:
        return 0, []
    # The re-check and the fetch in one query: the contacts still marketable, loaded to render.
    contacts = Contact.objects.marketable(campaign.topic, at=now).in_bulk(
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
    blocked = _block_reasons(campaign.topic, blocked_ids, now)
    return len(rows), _skip(deliveries, blocked)


def _release(deliveries: list[Delivery]) -> None:
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
        ).update(status=DeliveryStatus.SKIPPED, reason=CANCELLED)


# --- throttle -------------------------------------------------------------------------------------


def throttle(n: int = 1, *, rate: float | None = None, key: str | None = None) -> float:
    """Block until `n` messages may go under MARKETING_SEND_RATE (messages/s, all workers).

    A fixed-window counter in the shared cache (Redis in production): each window of
    max(1, 1/rate) seconds admits rate*window messages. Returns seconds waited.
    """
    rate = settings.MARKETING_SEND_RATE if rate is None else rate
    if rate <= 0:
        return 0.0
    window = max(1.0, 1.0 / rate)
    limit = max(1, int(rate * window))
    key = key or f"send-rate:{settings.MARKETING_EMAIL_BACKEND}"
    waited = 0.0
    while True:
        now = time.time()
        slot = int(now // window)
        slot_key = f"{key}:{slot}"
        cache.add(slot_key, 0, timeout=int(window) + 5)
        try:
            count = cache.incr(slot_key, n)
        except ValueError:  # expired between add and incr
            continue
        if count <= limit or count == n:  # a request larger than the window still goes, alone
            return waited
        pause = (slot + 1) * window - now + 0.001
        time.sleep(pause)
        waited += pause


# --- send -----------------------------------------------------------------------------------------


@dataclass
class BatchResult:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    stopped: bool = False  # the campaign was paused or cancelled mid-batch
    errors: list[str] = field(default_factory=list)


def _record_sent(sent: list[tuple[Delivery, str]]) -> None:
    """Mark accepted deliveries sent with their ESP ids: ONE statement per batch on PostgreSQL.

    Only rows still `claimed` are written, so an outcome is never recorded twice (rule 4).
    """
    if not sent:
        return
    now = timezone.now()
    for delivery, esp_id in sent:
        delivery.status = DeliveryStatus.SENT
        delivery.esp_message_id = esp_id
        delivery.sent_at = now
    if connection.vendor == "postgresql":
        # bulk_update's CASE over three columns cost ~40% of a batch; a join on unnest is one
        # index-driven UPDATE whatever the batch size.
        q = connection.ops.quote_name
        statement = (
            f"UPDATE {q(Delivery._meta.db_table)} d"  # noqa: S608
            f" SET {q('status')} = %s, {q('esp_message_id')} = v.mid, {q('sent_at')} = %s"
            " FROM unnest(%s::bigint[], %s::text[]) AS v(id, mid)"
            f" WHERE d.{q('id')} = v.id AND d.{q('status')} = %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                statement,
                [
                    DeliveryStatus.SENT,
                    now,
                    [d.pk for d, _ in sent],
                    [esp_id for _, esp_id in sent],
                    DeliveryStatus.CLAIMED,
                ],
            )
        return
    # Portable fallback (SQLite in `make run`): one CASE update per chunk of 400 rows, which
    # stays below SQLite's bound-parameter limit.
    for start in range(0, len(sent), 400):
        chunk = sent[start : start + 400]
        Delivery.objects.filter(
            pk__in=[d.pk for d, _ in chunk], status=DeliveryStatus.CLAIMED
        ).update(
            status=DeliveryStatus.SENT,
            sent_at=now,
            esp_message_id=Case(
                *(When(pk=d.pk, then=Value(esp_id)) for d, esp_id in chunk),
                default=F("esp_message_id"),
                output_field=CharField(),
            ),
        )


def _record_failed(failed: list[tuple[Delivery, str]]) -> None:
    """Mark refused deliveries failed with their error; only rows still `claimed` (rule 4)."""
    for delivery, error in failed:
        delivery.status = DeliveryStatus.FAILED
        delivery.reason = "error"
        delivery.error = error[:2000]
    # Refusals are rare, so one portable CASE update per chunk is plenty.
    for start in range(0, len(failed), 400):
        chunk = failed[start : start + 400]
        Delivery.objects.filter(
            pk__in=[d.pk for d, _ in chunk], status=DeliveryStatus.CLAIMED
        ).update(
            status=DeliveryStatus.FAILED,
            reason="error",
            error=Case(
                *(When(pk=d.pk, then=Value(d.error)) for d, _ in chunk),
                default=F("error"),
                output_field=TextField(),
            ),
        )


def _campaign_status(campaign_id: int) -> str | None:
    return Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()


def _render(
    campaign: Campaign, compiled: CompiledCampaign, deliveries: list[Delivery]
) -> tuple[list[tuple[Delivery, MarketingMessage]], list[tuple[Delivery, str]]]:
    """Each delivery's message, or the error that kept it from rendering."""
    rendered, broken = [], []
    for delivery in deliveries:
        try:
            message = render_marketing_message(
                campaign=campaign,
                contact=delivery.contact,
                compiled=compiled,
                delivery_id=delivery.pk,
            )
        except SoftTimeLimitExceeded:
            raise  # the task's time is up: this delivery is still only claimed
        except Exception as exc:  # a merge field that breaks on this contact's data
            broken.append((delivery, f"could not render: {type(exc).__name__}: {exc}"))
        else:
            rendered.append((delivery, message))
    return rendered, broken


def send_batch(
    *, campaign: Campaign, size: int | None = None, stop: threading.Event | None = None
) -> BatchResult:
    """Claim one batch and send it through the marketing backend.

    Messages go in send calls of as many as the transport takes at once (500 through
    Postmark's batch API, one through SMTP; see subscriptions.campaigns.esp_batch). Before a send call
    the remaining recipients are re-checked and the campaign's status is read, at most
    SEND_RECHECK_SECONDS apart: on pause or cancel the unsent claims are released. A delivery
    is marked sent once its message was accepted, failed with the error when it was refused,
    failed with `outcome_unknown` when the answer was lost (never resent). Raises
    SendingUnavailable (unsent claims released) when the transport cannot take mail now, so
    the caller may retry.
    """
    size = size or settings.SEND_BATCH_SIZE
    if settings.MARKETING_SEND_RATE > 0:
        # Keep a throttled batch to about a minute, far below STALE_CLAIM_SECONDS.
        size = min(size, max(1, int(settings.MARKETING_SEND_RATE * 60)))
    result = BatchResult()
    compiled: CompiledCampaign = compile_campaign(campaign)
    result.claimed, deliveries = _claim(campaign, size)
    checked_at = time.monotonic()  # the claim re-checked marketability
    result.skipped = result.claimed - len(deliveries)
    if not deliveries:
        return result
    if _campaign_status(campaign.pk) != CampaignStatus.SENDING:  # paused or cancelled meanwhile
        _release(deliveries)
        result.stopped = True
        return result
    try:
        with open_sender(settings.MARKETING_EMAIL_BACKEND, settings.SEND_CONNECTIONS) as sender:
            _send_claimed(campaign, compiled, sender, deliveries, result, checked_at, stop)
    except TransportUnavailable as exc:
        _release(deliveries)  # only rows still claimed: nothing was sent
        raise SendingUnavailable(str(exc)) from exc
    return result


def _send_claimed(
    campaign: Campaign,
    compiled: CompiledCampaign,
    sender: Parallel | PostmarkBatch,
    remaining: list[Delivery],
    result: BatchResult,
    checked_at: float,
    stop: threading.Event | None = None,
) -> None:
    """Send claimed deliveries in calls of up to `sender.capacity`, recording every outcome.

    Outcomes are written at each re-check and at the end (a few statements per second of
    sending, whatever the batch size); a worker killed in between leaves them claimed, and
    the stale-claim sweep reports them as outcome_unknown: never resent.
    """
    per_call = sender.capacity
    if settings.MARKETING_SEND_RATE > 0:
        # A batch call must fit in the rate limiter's window (one second's worth of messages).
        per_call = min(per_call, max(1, int(settings.MARKETING_SEND_RATE)))
    sent: list[tuple[Delivery, str]] = []
    failed: list[tuple[Delivery, str]] = []

    def flush() -> None:
        _record_sent(sent)
        _record_failed(failed)
        result.sent += len(sent)
        result.failed += len(failed)
        sent.clear()
        failed.clear()

    try:
        while remaining:
            # Wait for the rate limit BEFORE checking, so the check is fresh at send time.
            throttle(min(per_call, len(remaining)))
            if stop is not None and stop.is_set():  # the task is stopping: give the rest back
                _release(remaining)
                result.stopped = True
                return
            if time.monotonic() - checked_at >= settings.SEND_RECHECK_SECONDS:
                flush()
                # The re-check before this stretch of send calls (rule 1).
                if _campaign_status(campaign.pk) != CampaignStatus.SENDING:
                    _release(remaining)
                    result.stopped = True
                    return
                blocked = blocked_contacts(
                    topic=campaign.topic, contact_ids=[d.contact_id for d in remaining]
                )
                before = len(remaining)
                remaining = _skip(remaining, blocked)
                result.skipped += before - len(remaining)
                checked_at = time.monotonic()
                if not remaining:
                    return
            try:
                rendered, broken = _render(campaign, compiled, remaining[:per_call])
            except BaseException:
                _release(remaining)  # interrupted before anything of this call went out
                raise
            remaining = remaining[per_call:]
            failed.extend(broken)
            if not rendered:
                continue
            in_flight = [delivery for delivery, _ in rendered]
            try:
                outcomes = sender.send([message for _, message in rendered])
            except BaseException:
                # Interrupted (time limit, shutdown): what was not attempted goes back; the
                # call in flight stays claimed and ends as outcome_unknown.
                _release(remaining)
                raise
            retry, unknown = [], []
            for delivery, outcome in zip(in_flight, outcomes, strict=True):
                if outcome.state == SENT:
                    sent.append((delivery, outcome.esp_id))
                elif outcome.state == RETRY:
                    retry.append(delivery)
                elif outcome.state == UNKNOWN:
                    unknown.append(delivery)
                else:
                    failed.append((delivery, outcome.error))
            if retry or unknown:
                # The transport is in trouble: stop here; the task retries with backoff.
                flush()
                _record_unknown(unknown)
                result.failed += len(unknown)
                _release(retry + remaining)
                error = next(o.error for o in outcomes if o.state in (RETRY, UNKNOWN))
                raise SendingUnavailable(
                    f"{len(retry)} to retry, {len(unknown)} of unknown outcome: {error}"
                )
    finally:
        flush()


def campaign_finish_if_done(*, campaign: Campaign) -> bool:
    """Mark a sending campaign `sent` once nothing is pending or claimed. Returns True if so."""
    open_work = Delivery.objects.filter(
        campaign=campaign, status__in=[DeliveryStatus.PENDING, DeliveryStatus.CLAIMED]
    )
    if open_work.exists():
        return False
    done = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SENDING).update(
        status=CampaignStatus.SENT, finished_at=timezone.now()
    )
    return bool(done)


def _add(total: BatchResult, result: BatchResult) -> None:
    for name in ("claimed", "sent", "skipped", "failed"):
        setattr(total, name, getattr(total, name) + getattr(result, name))
    total.stopped = total.stopped or result.stopped


def send_until_done(
    *,
    campaign: Campaign,
    size: int | None = None,
    max_batches: int | None = None,
    stop: threading.Event | None = None,
) -> BatchResult:
    """Send batches until nothing is pending, the campaign stops, `max_batches` ran, or
    `stop` is set (checked before every send call; unsent claims are given back)."""
    total = BatchResult()
    batches = 0
    while max_batches is None or batches < max_batches:
        if (stop is not None and stop.is_set()) or _campaign_status(
            campaign.pk
        ) != CampaignStatus.SENDING:
            total.stopped = True
            break
        result = send_batch(campaign=campaign, size=size, stop=stop)
        batches += 1
        _add(total, result)
        if result.stopped:
            break
        if not result.claimed:
            campaign_finish_if_done(campaign=campaign)
            break
    return total


def send_until_done_concurrently(
    *, campaign: Campaign, max_batches: int | None = None, loops: int | None = None
) -> BatchResult:
    """send_until_done on `loops` threads at once, each with its own database connection.

    One worker process then overlaps a batch's database and ESP waits with another batch's
    rendering (claims never overlap: SKIP LOCKED). By default SEND_LOOPS loops where the
    marketing backend has a batch API, one elsewhere: one-message-per-call backends overlap
    their waits over SEND_CONNECTIONS threads already, and more threads only fight for the GIL.
    Inside a transaction it is one loop on the caller's connection. When one loop fails, or
    this thread is interrupted (a soft time limit only reaches the main thread), the others
    stop at their next send call, give back their unsent claims, and the first error is raised.
    """
    if loops is None:
        batching = has_batch_api(settings.MARKETING_EMAIL_BACKEND)
        loops = settings.SEND_LOOPS if batching else 1
    if loops <= 1 or connection.in_atomic_block:
        return send_until_done(campaign=campaign, max_batches=max_batches)
    campaign_id = campaign.pk
    stop = threading.Event()

    def loop() -> BatchResult:
        try:
            campaign = Campaign.objects.select_related("topic").get(pk=campaign_id)
            return send_until_done(campaign=campaign, max_batches=max_batches, stop=stop)
        except BaseException:
            stop.set()
            raise
        finally:
            connection.close()

    total = BatchResult()
    with ThreadPoolExecutor(max_workers=loops) as pool:
        futures = [pool.submit(loop) for _ in range(loops)]
        try:
            for future in futures:
                _add(total, future.result())
        except BaseException:
            stop.set()  # leaving the block waits for the other loops to stop
            raise
    return total


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
        reason=OUTCOME_UNKNOWN,
        error="The worker stopped after claiming; the message may or may not have been sent.",
    )


def _record_unknown(deliveries: list[Delivery]) -> None:
    """The send call went out but its answer was lost: failed, outcome_unknown, never resent."""
    Delivery.objects.filter(
        pk__in=[d.pk for d in deliveries], status=DeliveryStatus.CLAIMED
    ).update(
        status=DeliveryStatus.FAILED,
        reason=OUTCOME_UNKNOWN,
        error="The ESP's answer was lost; the message may or may not have been sent.",
    )


# --- life cycle -----------------------------------------------------------------------------------


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


def _enqueue(task, campaign_id: int) -> None:
    """Queue work after commit; with the broker down the beat's sweep picks the campaign up."""
    try:
        getattr(task, "delay", task)(campaign_id)
    except Exception:
        log.exception("could not queue %s for campaign %s", task, campaign_id)


def campaign_validate(*, campaign: Campaign) -> None:
    """Raise InvalidCampaignTemplate when the subject or a body does not compile in the sandbox,
    FromNotAllowed when its From address is not in ALLOWED_FROM_EMAILS."""
    compile_campaign(campaign)
    check_from_email(campaign.from_email)


def campaign_schedule(*, campaign: Campaign, at: datetime.datetime) -> Campaign:
    campaign_validate(campaign=campaign)
    _transition(campaign, STARTABLE, status=CampaignStatus.SCHEDULED, scheduled_at=at)
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
        from .tasks import start_campaign

        pk = campaign.pk
        transaction.on_commit(lambda: _enqueue(start_campaign, pk))
    return campaign


def campaign_pause(*, campaign: Campaign) -> Campaign:
    """Stop sending; workers release their unsent claims at their next re-check."""
    _transition(campaign, (CampaignStatus.SENDING,), status=CampaignStatus.PAUSED)
    return campaign


def campaign_resume(*, campaign: Campaign, enqueue: bool = True) -> Campaign:
    _transition(campaign, (CampaignStatus.PAUSED,), status=CampaignStatus.SENDING)
    if enqueue:
        from .tasks import fan_out

        pk = campaign.pk
        transaction.on_commit(lambda: _enqueue(fan_out, pk))
    return campaign


def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Stop for good: what is still pending is skipped with reason `cancelled`."""
    with transaction.atomic():
        _transition(
            campaign, CANCELLABLE, status=CampaignStatus.CANCELLED, finished_at=timezone.now()
        )
        Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SKIPPED, reason=CANCELLED
        )
    return campaign


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


# --- stats ----------------------------------------------------------------------------------------


def campaign_stats(campaign: Campaign) -> dict:
    """Progress counters: audience, pending (incl. claimed), sent, skipped (+by reason), failed.

    Deliveries the retention job archived still count; bounced / complained / unsubscribed come
    from the ESP's feedback on the live delivery rows.
    """
    from ..feedback.reports import feedback_counts
    from ..privacy.retention import campaign_archived_rows

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
    for row in [*rows, *campaign_archived_rows(campaign)]:
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
        if status == DeliveryStatus.FAILED and row["reason"] == OUTCOME_UNKNOWN:
            stats["outcome_unknown"] += n
    feedback = feedback_counts(campaign)
    for key in ("bounced", "complained", "unsubscribed"):
        stats[key] = feedback[key]
    return stats


def send_rate(campaign: Campaign, seconds: int = 60) -> float:
    """Messages per second sent for this campaign over the last `seconds`."""
    since = timezone.now() - datetime.timedelta(seconds=seconds)
    n = Delivery.objects.filter(campaign=campaign, sent_at__gte=since).count()
    return n / seconds
