"""The send loop: claim a batch, render it, hand it to the transport, record the outcomes.

Marketability (rule 1) is checked when the audience is built, again for the whole batch at
claim time, and again right before the send calls (at least once per SEND_RECHECK_SECONDS);
subscriptions.campaigns.claims holds those checks, .outcomes the recording, .transport the
send calls. Nothing here runs a query per message: a batch costs a fixed number of statements.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from ..models import Campaign, Delivery
from ..models.choices import CampaignStatus, SendOutcome
from ..ratelimit import wait_for_slot
from .claims import (
    CLAIM_RENEW_SECONDS,
    blocked_contacts,
    claim_with_count,
    claims_renew,
    release_claims,
    skip_blocked,
)
from .lifecycle import campaign_finish_if_done, campaign_status
from .messages import CompiledCampaign, MarketingMessage, compile_campaign, render_marketing_message
from .outcomes import record_failed, record_sent, record_sent_and_mark, record_unknown
from .transport import (
    Parallel,
    PostmarkBatch,
    TransportUnavailable,
    has_batch_api,
    open_sender,
)


class SendingUnavailable(Exception):
    """The mail transport could not be reached; nothing was sent, claims were released."""


# What a database outage (a restart, a failover, a dropped connection) raises.
DB_ERRORS = (OperationalError, InterfaceError)
# How long a send loop waits for the database to come back before recording what it knows.
DB_PATIENCE_SECONDS = 90.0


def reconnect() -> None:
    """Drop this thread's broken database connection: the next query opens a fresh one."""
    if not connection.in_atomic_block:  # a test's transaction is not ours to drop
        connection.close()


def patiently(write, *args) -> None:
    """Run a database write, waiting out an outage of up to DB_PATIENCE_SECONDS.

    For what only this process knows: the transport's answers, and which claims it never
    attempted. Lost, the first would turn sent messages into outcome_unknown.
    """
    deadline = time.monotonic() + DB_PATIENCE_SECONDS
    pause = 0.25
    while True:
        try:
            write(*args)
            return
        except DB_ERRORS:
            if connection.in_atomic_block or time.monotonic() > deadline:
                raise
            reconnect()
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def throttle(n: int = 1, *, rate: float | None = None, key: str | None = None) -> float:
    """Block until `n` messages may go under MARKETING_SEND_RATE (messages/s, all workers).

    The shared fixed-window counter of subscriptions.ratelimit. Returns seconds waited.
    """
    rate = settings.MARKETING_SEND_RATE if rate is None else rate
    key = key or f"send-rate:{settings.MARKETING_EMAIL_BACKEND}"
    return wait_for_slot(key=key, n=n, per_second=rate)


@dataclass
class BatchResult:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    stopped: bool = False  # the campaign was paused or cancelled mid-batch
    errors: list[str] = field(default_factory=list)


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
    Postmark's batch API, one through SMTP; see subscriptions.campaigns.transport). Before a send call
    the remaining recipients are re-checked and the campaign's status is read, at most
    SEND_RECHECK_SECONDS apart: on pause or cancel the unsent claims are released. A delivery
    is marked sent once its message was accepted, failed with the error when it was refused,
    failed with `outcome_unknown` when the answer was lost (never resent). Raises
    SendingUnavailable (unsent claims released) when the transport cannot take mail now, so
    the caller may retry.
    """
    size = size or settings.SEND_BATCH_SIZE
    if settings.MARKETING_SEND_RATE > 0:
        # Keep a throttled batch to about a minute: short enough to release fast on pause.
        size = min(size, max(1, int(settings.MARKETING_SEND_RATE * 60)))
    result = BatchResult()
    compiled: CompiledCampaign = compile_campaign(campaign)
    result.claimed, deliveries = claim_with_count(campaign=campaign, size=size)
    checked_at = time.monotonic()  # the claim re-checked marketability
    result.skipped = result.claimed - len(deliveries)
    if not deliveries:
        return result
    if campaign_status(campaign.pk) != CampaignStatus.SENDING:  # paused or cancelled meanwhile
        release_claims(deliveries)
        result.stopped = True
        return result
    try:
        with open_sender(settings.MARKETING_EMAIL_BACKEND, settings.SEND_CONNECTIONS) as sender:
            _send_claimed(campaign, compiled, sender, deliveries, result, checked_at, stop)
    except TransportUnavailable as exc:
        release_claims(deliveries)  # only rows still claimed: nothing was sent
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

    Each call's deliveries are marked in flight (one UPDATE) right before it. Outcomes are
    written at each re-check and at the end (a few statements per second of sending, whatever
    the batch size), waiting out a database outage (`patiently`). When the loop is interrupted
    (shutdown, time limit, outage), what was not attempted goes back to pending; a call whose
    answer never came stays in flight and ends as outcome_unknown when its claims are
    recovered: never resent.
    """
    per_call = sender.capacity
    if settings.MARKETING_SEND_RATE > 0:
        # A batch call must fit in the rate limiter's window (one second's worth of messages).
        per_call = min(per_call, max(1, int(settings.MARKETING_SEND_RATE)))
    sent: list[tuple[Delivery, str]] = []
    failed: list[tuple[Delivery, str]] = []
    renewed_at = time.monotonic()
    unsent: list[Delivery] = remaining  # never handed to the transport, if the loop stops now

    def flush() -> None:
        record_sent(sent)
        record_failed(failed)
        result.sent += len(sent)
        result.failed += len(failed)
        sent.clear()
        failed.clear()

    try:
        while remaining:
            # Wait for the rate limit BEFORE checking, so the check is fresh at send time.
            throttle(min(per_call, len(remaining)))
            if stop is not None and stop.is_set():  # the task is stopping: give the rest back
                release_claims(remaining)
                result.stopped = True
                return
            if time.monotonic() - checked_at >= settings.SEND_RECHECK_SECONDS:
                flush()
                if time.monotonic() - renewed_at >= CLAIM_RENEW_SECONDS:
                    claims_renew()  # a long (throttled) batch outlives one lease
                    renewed_at = time.monotonic()
                # The re-check before this stretch of send calls (rule 1).
                if campaign_status(campaign.pk) != CampaignStatus.SENDING:
                    release_claims(remaining)
                    result.stopped = True
                    return
                blocked = blocked_contacts(
                    topic=campaign.topic,
                    contact_ids=[d.contact_id for d in remaining],
                    campaign=campaign,
                )
                before = len(remaining)
                remaining = unsent = skip_blocked(remaining, blocked)
                result.skipped += before - len(remaining)
                checked_at = time.monotonic()
                if not remaining:
                    return
            rendered, broken = _render(campaign, compiled, remaining[:per_call])
            failed.extend(broken)
            # Answers so far recorded, this call marked in flight: one statement.
            call = [delivery for delivery, _ in rendered]
            held = {d.pk for d in record_sent_and_mark(sent, call)}
            result.sent += len(sent)
            sent.clear()
            # Past this point the call's deliveries are in flight: never given back.
            remaining = unsent = remaining[per_call:]
            rendered = [
                (delivery, message) for delivery, message in rendered if delivery.pk in held
            ]
            if not rendered:
                continue
            in_flight = [delivery for delivery, _ in rendered]
            outcomes = sender.send([message for _, message in rendered])
            retry, unknown = [], []
            for delivery, outcome in zip(in_flight, outcomes, strict=True):
                if outcome.state == SendOutcome.SENT:
                    sent.append((delivery, outcome.esp_id))
                elif outcome.state == SendOutcome.RETRY:
                    retry.append(delivery)
                elif outcome.state == SendOutcome.UNKNOWN:
                    unknown.append(delivery)
                else:
                    failed.append((delivery, outcome.error))
            if retry or unknown:
                # The transport is in trouble: stop here; the task retries with backoff.
                flush()
                record_unknown(unknown)
                result.failed += len(unknown)
                release_claims(retry + remaining)
                unsent = []
                error = next(
                    o.error for o in outcomes if o.state in (SendOutcome.RETRY, SendOutcome.UNKNOWN)
                )
                raise SendingUnavailable(
                    f"{len(retry)} to retry, {len(unknown)} of unknown outcome: {error}"
                )
    except BaseException:
        # Interrupted (time limit, shutdown, outage): what was not attempted goes back; the
        # call in flight stays claimed and ends as outcome_unknown.
        patiently(release_claims, unsent)
        raise
    finally:
        patiently(flush)


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
        if (stop is not None and stop.is_set()) or campaign_status(
            campaign.pk
        ) != CampaignStatus.SENDING:
            total.stopped = True
            break
        result = send_batch(campaign=campaign, size=size, stop=stop)
        batches += 1
        _add(total, result)
        if result.stopped:
            break
        # Whoever resolves the last delivery finishes the campaign (one conditional UPDATE a
        # batch), not only a sender whose claim comes back empty: that one may never come.
        campaign_finish_if_done(campaign=campaign)
        if not result.claimed:
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
