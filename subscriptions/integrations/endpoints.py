"""Webhook endpoints: which URLs may be called (SSRF rules), creating, re-enabling and deleting
endpoints, and the figures of each endpoint's delivery log.

A URL is vetted twice: when the endpoint is created and before every delivery, because what a
hostname resolves to may change. Vetting resolves the host and refuses it when any address is
not a public unicast one (loopback, private, link-local, shared, reserved, multicast,
unspecified, IPv4-mapped forms of those), unless WEBHOOK_ALLOW_PRIVATE_NETWORKS is on. The
delivery then connects to the address that was vetted, never resolving again.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from ..consent.events import wanted_event_types_changed
from ..models import WebhookDelivery, WebhookEndpoint
from ..models.choices import OutboundEventType, WebhookDeliveryStatus

SECRET_PREFIX = "whsec_"  # noqa: S105  (a label, not a secret)
DEFAULT_PORTS = {"http": 80, "https": 443}


class WebhookError(Exception):
    """A webhook endpoint cannot be created as asked; `code` names why (API error code)."""

    code = "invalid"


class UrlNotAllowed(WebhookError):
    code = "url_not_allowed"


class UnknownEventType(WebhookError):
    code = "unknown_event_type"


@dataclass(frozen=True)
class VettedUrl:
    """A URL with the address to connect to: what was checked is what is reached."""

    scheme: str
    host: str  # as written (Host header, TLS name)
    port: int
    path: str  # path and query, never empty
    address: str  # the vetted IP


def address_is_public(address: str) -> bool:
    """Whether an IP is a public unicast address (IPv4-mapped IPv6 judged by its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _split(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UrlNotAllowed(f"This URL cannot be read: {error}.") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise UrlNotAllowed("A webhook URL must start with http:// or https://.")
    if not parts.hostname:
        raise UrlNotAllowed("A webhook URL must name a host.")
    if parts.username or parts.password:
        raise UrlNotAllowed("A webhook URL may not carry a user name or password.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme], path


def url_vet(url: str) -> VettedUrl:
    """Resolve the URL's host and return the address to connect to.

    Raises UrlNotAllowed for a URL that is not http(s), a host that does not resolve, or (unless
    WEBHOOK_ALLOW_PRIVATE_NETWORKS) one with any address that is not public: a hostname that
    resolves to both a public and a private address is refused, not half-trusted.
    """
    scheme, host, port, path = _split(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):  # gaierror is an OSError; NUL: ValueError
        raise UrlNotAllowed(f"The host {host} does not resolve.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UrlNotAllowed(f"The host {host} does not resolve.")
    if not settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        refused = [address for address in addresses if not address_is_public(address)]
        if refused:
            raise UrlNotAllowed(
                f"{host} resolves to {refused[0]}, a loopback, private or reserved address: "
                "webhooks only reach public addresses (WEBHOOK_ALLOW_PRIVATE_NETWORKS)."
            )
    return VettedUrl(scheme=scheme, host=host, port=port, path=path, address=addresses[0])


def event_types_clean(events: list[str]) -> list[str]:
    """The event types as given, deduplicated; UnknownEventType for any the product lacks."""
    if not events:
        raise UnknownEventType("Name at least one event type.")
    unknown = [event for event in events if event not in OutboundEventType.values]
    if unknown:
        raise UnknownEventType(
            f"Unknown event type {unknown[0]!r}; known: {', '.join(OutboundEventType.values)}."
        )
    return list(dict.fromkeys(events))


def webhook_endpoint_create(
    *, url: str, events: list[str], created_by: str = ""
) -> WebhookEndpoint:
    """Create an endpoint with a new secret (the returned instance is the only time it is read
    out). Raises UrlNotAllowed or UnknownEventType, creating nothing."""
    events = event_types_clean(events)
    url_vet(url)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            url=url,
            events=events,
            secret=SECRET_PREFIX + secrets.token_hex(24),
            created_by=created_by[:150],
        )
        wanted_event_types_changed()
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint and its delivery log; its undelivered events are not sent."""
    with transaction.atomic():
        endpoint.delete()
        wanted_event_types_changed()


def webhook_endpoint_enable(*, endpoint: WebhookEndpoint) -> bool:
    """Re-enable a disabled endpoint: its failure run starts afresh and its open deliveries are
    due now (those past their 24 hours are given up by the sweep). Returns whether it changed."""
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=False).update(
            is_active=True, disabled_at=None, disabled_reason="", failing_since=None
        )
        if changed:
            endpoint.deliveries.filter(status__in=OPEN).update(next_attempt_at=timezone.now())
            wanted_event_types_changed()
    if changed:
        endpoint.refresh_from_db()
    return bool(changed)


OPEN = (WebhookDeliveryStatus.PENDING, WebhookDeliveryStatus.FAILED)


def delivery_log_figures(endpoint: WebhookEndpoint) -> dict:
    """An endpoint's delivery log in figures: counts per status, the last attempt's answer and
    error, and when the next retry is due."""
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    counts = deliveries.aggregate(
        **{status: Count("id", filter=Q(status=status)) for status in WebhookDeliveryStatus.values},
        next_attempt_at=Min("next_attempt_at", filter=Q(status__in=OPEN)),
        last_attempt_at=Max("last_attempt_at"),
    )
    last = deliveries.filter(last_attempt_at__isnull=False).order_by("-last_attempt_at").first()
    return {
        "pending": counts[WebhookDeliveryStatus.PENDING],
        "failed": counts[WebhookDeliveryStatus.FAILED],
        "delivered": counts[WebhookDeliveryStatus.DELIVERED],
        "gave_up": counts[WebhookDeliveryStatus.GAVE_UP],
        "last_attempt_at": counts["last_attempt_at"],
        "last_status_code": last.last_status_code if last else None,
        "last_error": last.last_error if last else "",
        "next_attempt_at": counts["next_attempt_at"],
    }
