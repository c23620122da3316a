"""Delivering outbound events to webhook endpoints.

Each delivery (one event to one endpoint) is claimed with a lease (`next_attempt_at` moves past
the attempt), POSTed once with a 5-second limit on connect and read, and recorded: delivered on
a 2xx, otherwise retried with exponential backoff and jitter until the event is 24 hours old,
then given up. Redirects are never followed (a 3xx is a failure). A contact's events reach an
endpoint in order: a delivery waits while an earlier one of the same contact to the same
endpoint is still open. An endpoint failing without a single success for 3 days is disabled and
staff are told by email.

The body is `{id, type, created_at, data}` (compact JSON); the header
`Prefcenter-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
import random
import time
from dataclasses import dataclass

import certifi
import urllib3
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ..addresses import InvalidAddress
from ..consent.events import wanted_event_types_changed
from ..mail.transactional import AddressSuppressed, send_transactional
from ..models import OutboundEvent, WebhookDelivery, WebhookEndpoint
from ..models.choices import OutboundEventType, WebhookDeliveryStatus
from .endpoints import OPEN, UrlNotAllowed, url_vet

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Prefcenter-Signature"
REQUEST_TIMEOUT_SECONDS = 5.0
# How long a claimed delivery is reserved for the attempt; a worker killed mid-attempt frees it
# when the lease ends (the receiver may then get it twice: it deduplicates by event id).
LEASE = datetime.timedelta(seconds=60)
EVENT_LIFETIME = datetime.timedelta(hours=24)
MAX_RETRY_DELAY = datetime.timedelta(hours=6)
RETRY_GROWTH = 3
DISABLE_AFTER = datetime.timedelta(days=3)
# Finished events stay in the outbox (the delivery log) this long.
KEEP_FINISHED = datetime.timedelta(days=30)
ERROR_LENGTH = 500


# --- the request --------------------------------------------------------------------------------


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The Prefcenter-Signature header value of `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def event_body(event: OutboundEvent) -> bytes:
    created_at = event.created_at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload = {"id": str(event.uid), "type": event.type, "created_at": created_at}
    payload["data"] = event.data
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Answer:
    """What one POST came to: the receiver's status code, or why there was none."""

    status_code: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def webhook_post(*, url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url` once: the host is vetted now (url_vet) and the vetted address is the
    one connected to; no redirect followed, no proxy, at most REQUEST_TIMEOUT_SECONDS."""
    try:
        target = url_vet(url)
    except UrlNotAllowed as error:
        return Answer(None, str(error))
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = {"http": 80, "https": 443}[target.scheme]
    options: dict = {"timeout": urllib3.Timeout(total=REQUEST_TIMEOUT_SECONDS), "maxsize": 1}
    if target.scheme == "https":
        pool_class = urllib3.HTTPSConnectionPool
        options |= {
            "server_hostname": target.host,
            "assert_hostname": target.host,
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": certifi.where(),
        }
    else:
        pool_class = urllib3.HTTPConnectionPool
    pool = pool_class(target.address, target.port, **options)
    headers = {**headers, "Host": host if target.port == default else f"{host}:{target.port}"}
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers=headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        status = response.status
        location = response.headers.get("Location", "")
        response.release_conn()
    except urllib3.exceptions.TimeoutError:
        return Answer(None, f"No answer within {REQUEST_TIMEOUT_SECONDS:g} seconds.")
    except urllib3.exceptions.HTTPError as error:
        return Answer(None, f"Connection failed: {error}"[:ERROR_LENGTH])
    finally:
        pool.close()
    if 300 <= status < 400:
        return Answer(status, f"Redirect to {location or '(no Location)'} not followed."[:500])
    if not 200 <= status < 300:
        return Answer(status, f"The receiver answered {status}.")
    return Answer(status)


# --- claiming and attempting --------------------------------------------------------------------


def _due(now: datetime.datetime):
    earlier_open = WebhookDelivery.objects.filter(
        endpoint=OuterRef("endpoint"),
        contact_id=OuterRef("contact_id"),
        status__in=OPEN,
        event_id__lt=OuterRef("event_id"),
    )
    return WebhookDelivery.objects.filter(
        status__in=OPEN, next_attempt_at__lte=now, endpoint__is_active=True
    ).exclude(Exists(earlier_open))


def deliveries_due_exist() -> bool:
    return _due(timezone.now()).exists()


def deliveries_claim(*, limit: int) -> list[int]:
    """Reserve up to `limit` due deliveries (none behind an open one of the same contact and
    endpoint) for one attempt each; two workers never claim the same one."""
    now = timezone.now()
    with transaction.atomic():
        claimed = list(
            _due(now)
            .order_by("next_attempt_at", "event_id")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:limit]
        )
        WebhookDelivery.objects.filter(id__in=claimed).update(next_attempt_at=now + LEASE)
    return claimed


def deliveries_release(delivery_ids: list[int]) -> None:
    """Give claimed deliveries back unattempted (the task ran out of its time)."""
    WebhookDelivery.objects.filter(id__in=delivery_ids, status__in=OPEN).update(
        next_attempt_at=timezone.now()
    )


def retry_delay(attempts: int) -> datetime.timedelta:
    """Wait after the `attempts`-th failure: base * 3^(attempts-1), ±20% jitter, at most 6 h."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS * RETRY_GROWTH ** (attempts - 1)
    seconds = min(base, MAX_RETRY_DELAY.total_seconds()) * random.uniform(0.8, 1.2)
    return datetime.timedelta(seconds=seconds)


def delivery_attempt(delivery_id: int) -> datetime.datetime | None:
    """POST one claimed delivery and record the outcome. Returns when it is to be retried
    (None: delivered, given up, or nothing to do)."""
    delivery = (
        WebhookDelivery.objects.select_related("endpoint", "event").filter(pk=delivery_id).first()
    )
    if delivery is None or delivery.status not in OPEN:
        return None
    endpoint, event = delivery.endpoint, delivery.event
    body = event_body(event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "prefcenter-webhooks/1",
        SIGNATURE_HEADER: signature(secret=endpoint.secret, timestamp=int(time.time()), body=body),
    }
    answer = webhook_post(url=endpoint.url, body=body, headers=headers)
    return delivery_record(delivery=delivery, answer=answer)


def delivery_record(*, delivery: WebhookDelivery, answer: Answer) -> datetime.datetime | None:
    """Store one attempt's outcome on the delivery and its endpoint. Returns the retry time."""
    now = timezone.now()
    fields = {
        "attempts": delivery.attempts + 1,
        "last_attempt_at": now,
        "last_status_code": answer.status_code,
        "last_error": answer.error[:ERROR_LENGTH],
    }
    retry_at = None
    if answer.ok:
        fields |= {"status": WebhookDeliveryStatus.DELIVERED, "delivered_at": now}
    else:
        deadline = delivery.event.created_at + EVENT_LIFETIME
        if now >= deadline:
            fields["status"] = WebhookDeliveryStatus.GAVE_UP
        else:
            retry_at = min(now + retry_delay(fields["attempts"]), deadline)
            fields |= {"status": WebhookDeliveryStatus.FAILED, "next_attempt_at": retry_at}
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
        if retry_at is None:
            erased_events_forget(event_ids=[delivery.event_id])
        if answer.ok:
            WebhookEndpoint.objects.filter(
                pk=delivery.endpoint_id, failing_since__isnull=False
            ).update(failing_since=None)
        else:
            _endpoint_failed(delivery.endpoint_id, now)
    return retry_at


def _endpoint_failed(endpoint_id: int, now: datetime.datetime) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True).update(
        failing_since=now
    )
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:  # deleted while its delivery was in flight
        return
    if endpoint.is_active and endpoint.failing_since <= now - DISABLE_AFTER:
        webhook_endpoint_disable(endpoint=endpoint, now=now)


def webhook_endpoint_disable(*, endpoint: WebhookEndpoint, now: datetime.datetime) -> None:
    """Disable an endpoint that has failed for DISABLE_AFTER and tell staff by email."""
    reason = (
        f"Every delivery failed since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC "
        f"({DISABLE_AFTER.days} days); re-enable it in the admin once the receiver works."
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False, disabled_at=now, disabled_reason=reason
    )
    wanted_event_types_changed()
    staff = get_user_model().objects.filter(is_active=True, is_staff=True).exclude(email="")
    for email in sorted(set(staff.values_list("email", flat=True))):
        try:
            send_transactional(
                to=email,
                template="webhook_disabled",
                context={"url": endpoint.url, "reason": reason, "site_url": settings.SITE_URL},
                kind="webhook_disabled",
            )
        except (InvalidAddress, AddressSuppressed):
            log.warning("could not tell %s that a webhook endpoint was disabled", email)


def erased_events_forget(*, event_ids: list[int] | None = None) -> int:
    """Drop the external id from `contact.erased` events no endpoint still waits for: it was
    carried so the receivers could find their user, and erasure leaves no copy. Returns how many
    events were changed (among `event_ids`, or all)."""
    open_deliveries = WebhookDelivery.objects.filter(event=OuterRef("pk"), status__in=OPEN)
    done = OutboundEvent.objects.filter(
        type=OutboundEventType.CONTACT_ERASED, data__has_key="external_id"
    ).exclude(Exists(open_deliveries))
    if event_ids is not None:
        done = done.filter(pk__in=event_ids)
    changed = 0
    for event in done:
        event.data = {key: value for key, value in event.data.items() if key != "external_id"}
        event.save(update_fields=["data"])
        changed += 1
    return changed


# --- the sweep ----------------------------------------------------------------------------------


def webhooks_sweep() -> int:
    """Give up open deliveries whose event is past its 24 hours (an endpoint disabled, workers
    down), drop the external id of delivered erasures, prune finished events older than
    KEEP_FINISHED, and count what is due."""
    now = timezone.now()
    stale = WebhookDelivery.objects.filter(
        status__in=OPEN,
        next_attempt_at__lte=now,
        event__created_at__lt=now - EVENT_LIFETIME - LEASE,
    )
    WebhookDelivery.objects.filter(pk__in=stale.values("pk"), status__in=OPEN).update(
        status=WebhookDeliveryStatus.GAVE_UP,
        last_error="Not delivered within 24 hours.",
    )
    erased_events_forget()
    open_deliveries = WebhookDelivery.objects.filter(event=OuterRef("pk"), status__in=OPEN)
    OutboundEvent.objects.filter(created_at__lt=now - KEEP_FINISHED).exclude(
        Exists(open_deliveries)
    ).delete()
    return _due(now).count()
