"""Every API error is `{"error": "<code>", "detail": "<text>"}` with a 4xx status, or 503 with
Retry-After when the database (or, for a test send, the mail server) cannot be reached.

DRF's own exceptions are renamed by a small table; the domain's exceptions (invalid address,
rule-5 refusal, suppressed address) are mapped here too, so views only raise. An unreachable
database answers 503 `database_unavailable` with Retry-After (DESIGN), never a 500.
"""

from __future__ import annotations

import logging
import math

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from ..addresses import InvalidAddress
from ..campaigns.lifecycle import CampaignStateError, InvalidSchedule
from ..campaigns.messages import CampaignRenderError, FromNotAllowed, InvalidCampaignTemplate
from ..campaigns.test_sends import InvalidTestSend, MailUnavailable
from ..consent.errors import ConsentError
from ..integrations.endpoints import WebhookError
from ..locales import InvalidLocale
from ..mail.transactional import AddressSuppressed
from ..privacy.rights import PrivacyError

log = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with its own code: raise ApiError(status, code, detail)."""

    def __init__(self, status_code: int, code: str, detail: str):
        self.status_code = status_code
        super().__init__(detail=detail, code=code)


class UnknownTopic(ApiError):
    def __init__(self, slug: str):
        super().__init__(404, "unknown_topic", f"There is no topic {slug!r}.")


# DRF exception → error code (the status is the exception's own).
CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "malformed_json",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "invalid_key",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "invalid",
}

# An unreachable database (refused, dropped or timed-out connection, a restart, a failover):
# the call changed nothing that committed, so a client should retry.
DATABASE_ERRORS = (OperationalError, InterfaceError)
# A 503 (database or mail server unreachable) says when to try again (DESIGN: Retry-After);
# prefcenter.middleware answers a database outage outside the API with the same wait.
RETRY_AFTER_SECONDS = 30
DATABASE_RETRY_AFTER_SECONDS = RETRY_AFTER_SECONDS

# Field error codes that name the whole error when they are its only cause.
FIELD_CODES = frozenset({"invalid_email", "invalid_locale"})

# Domain exception → (status, code); the code may come from the exception itself.
DOMAIN: dict[type[Exception], int] = {
    InvalidAddress: status.HTTP_400_BAD_REQUEST,
    InvalidLocale: status.HTTP_400_BAD_REQUEST,
    InvalidCampaignTemplate: status.HTTP_400_BAD_REQUEST,
    CampaignRenderError: status.HTTP_400_BAD_REQUEST,
    FromNotAllowed: status.HTTP_400_BAD_REQUEST,
    InvalidTestSend: status.HTTP_400_BAD_REQUEST,
    InvalidSchedule: status.HTTP_400_BAD_REQUEST,
    WebhookError: status.HTTP_400_BAD_REQUEST,
    ConsentError: status.HTTP_409_CONFLICT,
    CampaignStateError: status.HTTP_409_CONFLICT,
    PrivacyError: status.HTTP_409_CONFLICT,
    AddressSuppressed: status.HTTP_422_UNPROCESSABLE_ENTITY,
    MailUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def _flatten(detail, path: str = "") -> list[str]:
    """Field errors as readable lines: 'email: Enter a valid email address.'"""
    if isinstance(detail, dict):
        lines = []
        for field, value in detail.items():
            name = field if field != "non_field_errors" else ""
            lines += _flatten(value, f"{path}.{name}" if path and name else path or name)
        return lines
    if isinstance(detail, list):
        return [line for item in detail for line in _flatten(item, path)]
    return [f"{path}: {detail}" if path else str(detail)]


def _codes(codes) -> set:
    if isinstance(codes, dict):
        return {code for value in codes.values() for code in _codes(value)}
    if isinstance(codes, list):
        return {code for value in codes for code in _codes(value)}
    return {codes}


def body(code: str, detail: str, **extra) -> dict:
    return {"error": code, "detail": detail, **extra}


def database_unavailable_body() -> dict:
    return body("database_unavailable", "The database cannot be reached; retry shortly.")


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """The API's EXCEPTION_HANDLER: one error shape for every 4xx (and the database's 503)."""
    if isinstance(exc, DATABASE_ERRORS):
        # Answering stops Django from logging it: name the cause for the operator.
        log.error("database error, answered 503: %s", str(exc).strip())
        return Response(
            database_unavailable_body(),
            status=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, RequestDataTooBig):
        set_rollback()
        return Response(body("too_large", "The request body is too large."), status=413)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    for kind, status_code in DOMAIN.items():
        if isinstance(exc, kind):
            code = getattr(exc, "code", "invalid")
            set_rollback()
            retry = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status_code == 503 else {}
            return Response(body(code, str(exc) or code), status=status_code, headers=retry)
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: let Django answer 500 and log it
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(math.ceil(exc.wait))
    if isinstance(exc, ApiError):
        code = exc.default_code if exc.detail.code is None else exc.detail.code
    else:
        code = next((c for kind, c in CODES.items() if isinstance(exc, kind)), None)
        code = code or (exc.get_codes() if isinstance(exc.get_codes(), str) else "error")
    if isinstance(exc, exceptions.ValidationError):
        only = _codes(exc.get_codes())
        if len(only) == 1 and only <= FIELD_CODES:
            code = next(iter(only))  # e.g. invalid_email: more useful than "invalid"
        lines = _flatten(exc.detail)
        payload = body(code, " ".join(lines) or "Invalid input.", fields=exc.detail)
    elif isinstance(exc, exceptions.Throttled):
        wait = math.ceil(exc.wait or 1)
        payload = body(code, f"Too many requests for this API key; retry in {wait} s.")
    else:
        payload = body(code, str(exc.detail))
    set_rollback()
    return Response(payload, status=exc.status_code, headers=headers)


@csrf_exempt
def not_found(request, *args, **kwargs) -> JsonResponse:
    """Unknown URLs under /api/ answer in the API's error shape, not with an HTML page."""
    return JsonResponse(body("not_found", "No such API endpoint."), status=404)
