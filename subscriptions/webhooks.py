"""Anymail tracking receiver: maps each ESP's normalized event onto a feedback kind.

Provider quirks live in small tables: Anymail reports some temporary failures as `bounced`,
and only the raw ESP payload tells a soft bounce from a hard one.
"""

from __future__ import annotations

import functools
import json
import logging

from anymail.exceptions import AnymailAPIError
from anymail.signals import EventType, RejectReason
from django.http import JsonResponse
from django.urls import URLPattern

from .feedback import Feedback, Kind, feedback_record

log = logging.getLogger(__name__)

DIRECT_KINDS = {
    EventType.DEFERRED: Kind.SOFT_BOUNCE,
    EventType.COMPLAINED: Kind.COMPLAINT,
    EventType.UNSUBSCRIBED: Kind.UNSUBSCRIBE,
    EventType.DELIVERED: Kind.DELIVERED,
    EventType.OPENED: Kind.OPENED,
    EventType.CLICKED: Kind.CLICKED,
}

# A `rejected` event (the ESP refused to send) by its reason; other reasons change nothing.
REJECTED_KINDS = {
    RejectReason.INVALID: Kind.INVALID,
    RejectReason.BOUNCED: Kind.HARD_BOUNCE,
    RejectReason.SPAM: Kind.COMPLAINT,
    RejectReason.UNSUBSCRIBED: Kind.UNSUBSCRIBE,
}

# (payload key, nested key or None, values) marking a `bounced` event as temporary, per ESP.
SOFT_BOUNCE_MARKERS = {
    "Postmark": ("Type", None, {"SoftBounce", "Transient", "DnsError"}),
    "Amazon SES": ("bounce", "bounceType", {"Transient", "Undetermined"}),
    "SendGrid": ("type", None, {"blocked"}),
}


def _is_soft(esp_name: str, esp_event) -> bool:
    marker = SOFT_BOUNCE_MARKERS.get(esp_name)
    if marker is None or not isinstance(esp_event, dict):
        return False
    key, nested, values = marker
    value = esp_event.get(key)
    if nested is not None:
        value = value.get(nested) if isinstance(value, dict) else None
    return value in values


def feedback_kind(esp_name: str, event) -> str | None:
    """The feedback kind of an Anymail tracking event, or None when it changes nothing."""
    if event.event_type == EventType.BOUNCED:
        if event.reject_reason not in (None, RejectReason.BOUNCED):
            return None  # e.g. a virus notification: not about the address
        return Kind.SOFT_BOUNCE if _is_soft(esp_name, event.esp_event) else Kind.HARD_BOUNCE
    if event.event_type == EventType.REJECTED:
        return REJECTED_KINDS.get(event.reject_reason)
    return DIRECT_KINDS.get(event.event_type)


def handle_tracking(sender, event, esp_name: str, **kwargs) -> None:
    """Receiver of Anymail's `tracking` signal (connected in SubscriptionsConfig.ready)."""
    kind = feedback_kind(esp_name, event)
    if kind is None:
        return  # queued, sent, autoresponded, unknown...: accepted and ignored
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    feedback_record(
        feedback=Feedback(
            esp=esp_name,
            kind=kind,
            recipient=event.recipient if isinstance(event.recipient, str) else None,
            message_id=str(event.message_id) if event.message_id else None,
            event_id=str(event.event_id) if event.event_id else None,
            occurred_at=event.timestamp,
            description=str(event.description or event.mta_response or "")[:300],
            metadata=metadata,
        )
    )


def _bad_request(detail: str) -> JsonResponse:
    return JsonResponse({"error": "bad_request", "detail": detail}, status=400)


def guarded(view):
    """Wrap an Anymail webhook view so a malformed body is a 400, never a 500.

    Anymail lets a JSON decode error or a payload of the wrong shape escape as a 500, which
    ESPs would retry for ever. Reading `request.body` here also enforces
    DATA_UPLOAD_MAX_MEMORY_SIZE (Django answers 400 above it).
    """

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method == "POST" and request.content_type in ("application/json", "text/plain"):
            try:
                json.loads(request.body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                return _bad_request("The body is not valid JSON.")
        try:
            return view(request, *args, **kwargs)
        except (AnymailAPIError, KeyError, TypeError, AttributeError, ValueError) as error:
            log.warning("unreadable webhook payload at %s: %r", request.path, error)
            return _bad_request("The body is not a webhook payload this endpoint understands.")

    return wrapper


def guarded_patterns(patterns: list) -> list:
    return [URLPattern(p.pattern, guarded(p.callback), p.default_args, p.name) for p in patterns]
