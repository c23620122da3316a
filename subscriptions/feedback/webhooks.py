"""Anymail tracking receiver: maps each ESP's event onto a feedback kind and records it.

What each ESP's events mean lives in one table per ESP (esp_events.py).
"""

from __future__ import annotations

import json
import logging

from anymail import urls as anymail_urls
from anymail.exceptions import AnymailAPIError, AnymailWebhookValidationFailure
from anymail.utils import get_anymail_setting, get_request_basic_auth
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from prefcenter.esps import SIGNING_KEYS

from ..safejson import MAX_JSON_DEPTH, exceeds_depth
from .esp_events import feedback_kind
from .reports import Feedback, feedback_record
from .sns import SnsSignatureInvalid, sns_verify

log = logging.getLogger(__name__)


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


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


def _bad_request(detail: str) -> JsonResponse:
    return _error(400, "bad_request", detail)


# Anymail's tracking views by ESP name (its URL segment), read from Anymail's own URL table.
TRACKING_VIEWS = {
    p.name.removesuffix("_tracking_webhook"): p.callback
    for p in anymail_urls.urlpatterns
    if p.name and p.name.endswith("_tracking_webhook")
}
JSON_TYPES = ("application/json", "text/plain")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _body_problem(request: HttpRequest) -> str | None:
    """Why the body cannot be read safely, or None. Runs before authentication, so it must be
    cheap and never recurse: size (DATA_UPLOAD_MAX_MEMORY_SIZE, enforced by reading
    `request.body`), UTF-8 and nesting depth of JSON bodies, and of JSON inside form fields
    (Mandrill posts its events as a form field)."""
    body = request.body  # read (and size-checked) once: the form parser and views reuse it
    if request.content_type in FORM_TYPES:
        texts = [value for _name, values in request.POST.lists() for value in values]
    else:
        try:
            texts = [body.decode("utf-8")]
        except UnicodeDecodeError:
            if request.content_type in JSON_TYPES:
                return "The body is not valid JSON."
            texts = []
    if any(exceeds_depth(text) for text in texts):
        return f"The body nests deeper than {MAX_JSON_DEPTH} levels."
    if request.content_type in JSON_TYPES:
        try:
            json.loads(texts[0])
        except ValueError:
            return "The body is not valid JSON."
    return None


def _refusal(request: HttpRequest, esp: str) -> HttpResponse | None:
    """Why this call may change nothing, or None when it is authenticated.

    Basic auth (ANYMAIL_WEBHOOK_SECRET) is required of every ESP; an ESP that signs must have
    its signing key configured (Anymail then checks the signature; SendGrid's would otherwise be
    optional); Amazon SES must carry a valid SNS signature, which Anymail does not check.
    """
    allowed = get_anymail_setting("webhook_secret", default=[])
    if isinstance(allowed, str):
        allowed = [allowed] if allowed else []
    if not allowed:
        return _error(403, "not_configured", "ESP webhooks are not configured (no secret).")
    given = get_request_basic_auth(request)
    if given is None or not any(constant_time_compare(given, secret) for secret in allowed):
        response = _error(401, "not_authenticated", "Missing or wrong webhook credentials.")
        response["WWW-Authenticate"] = 'Basic realm="anymail"'
        return response
    key = SIGNING_KEYS.get(esp)
    if key and not settings.ANYMAIL.get(key.removeprefix("ANYMAIL_")):
        return _error(403, "not_configured", f"The webhook signing key {key} is not set.")
    if esp == "amazon_ses":
        try:
            message = json.loads(request.body.decode("utf-8"))
        except ValueError:  # not UTF-8, not JSON: whatever its content type said
            return _bad_request("The body is not an Amazon SNS message.")
        try:
            sns_verify(message=message)
        except SnsSignatureInvalid as error:
            log.warning("refused an SES webhook: %s", error)
            return _error(403, "invalid_signature", str(error))
    return None


@csrf_exempt
def not_mounted(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """Every /anymail/ URL but the tracking webhooks of ESP_WEBHOOKS."""
    return _error(404, "not_found", "No webhook is mounted at this URL.")


@csrf_exempt
def tracking_webhook(request: HttpRequest, esp: str) -> HttpResponse:
    """/anymail/<esp>/tracking/: Anymail's view for `esp`, mounted only for ESP_WEBHOOKS.

    A malformed, too large or too deep body is a 400 (checked first, before authentication);
    missing or wrong credentials a 401; a missing signing key or a bad signature a 403; a
    payload Anymail cannot read a 400. None of them changes anything.
    """
    view = TRACKING_VIEWS.get(esp)
    if view is None or esp not in settings.ESP_WEBHOOKS:
        return not_mounted(request)
    if request.method == "POST":
        problem = _body_problem(request)
        if problem is not None:
            return _bad_request(problem)
        refusal = _refusal(request, esp)
        if refusal is not None:
            return refusal
    try:
        return view(request)
    except AnymailWebhookValidationFailure as error:
        log.warning("refused a %s webhook: %s", esp, error)
        return _error(403, "invalid_signature", "The webhook failed validation.")
    except (AnymailAPIError, KeyError, TypeError, AttributeError, ValueError) as error:
        # Anymail lets a payload of the wrong shape escape as a 500, which ESPs would retry
        # for ever.
        log.warning("unreadable webhook payload at %s: %r", request.path, error)
        return _bad_request("The body is not a webhook payload this endpoint understands.")
