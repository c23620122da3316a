"""Privacy pages: ask for a copy of one's data or its erasure, verified by a fresh email.

A long-lived preference link only *sends* the verification email; the data itself (and the
erasure) needs the emailed one-hour, single-use link, so a forwarded or leaked preference link
never reveals the ledger. Verification links open a page with a button: GET changes nothing
(mail scanners follow links), the POST acts.
"""

from __future__ import annotations

import json

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from ..consent.ledger import Actor
from ..consent.tokens import BadToken, ContactGone, read_privacy_request_token, read_privacy_token
from ..models.choices import PrivacyAction, Source
from ..privacy.erasure import contact_erase
from ..privacy.export import contact_export
from ..privacy.rights import (
    ContactAlreadyErased,
    PrivacyLinkUsed,
    privacy_request_check,
    privacy_request_start,
    privacy_request_use,
)
from .errors import error_page, gone_response


def _bad_privacy_link(request, problem: Exception) -> HttpResponse:
    if isinstance(problem, ContactGone | ContactAlreadyErased):
        return gone_response(request)
    if isinstance(problem, PrivacyLinkUsed):
        return error_page(
            request,
            status=410,
            title=_("This link has already been used"),
            message=_("Each link works once. Ask for a new one from your preference page."),
        )
    if str(problem) == "expired":
        return error_page(
            request,
            status=410,
            title=_("This link has expired"),
            message=_("For your safety this link works for one hour. Ask for a new one."),
        )
    return error_page(
        request,
        status=404,
        title=_("This link does not work"),
        message=_("The link may be incomplete or mistyped. Copy the whole link from the email."),
    )


@never_cache
@require_POST
def privacy_request(request, action: str, token: str):
    """From the preference page's buttons (a request-only token): email a verification link
    for an export or an erasure."""
    if action not in PrivacyAction.values:
        return error_page(
            request,
            status=404,
            title=_("Unknown request"),
            message=_("You can ask for a copy of your data or for its erasure."),
        )
    try:
        contact = read_privacy_request_token(token)
    except BadToken as problem:
        return _bad_privacy_link(request, problem)
    with translation.override(contact.locale):
        privacy_request_start(contact=contact, action=action)
        # The same answer when the hourly limit is reached: nothing to learn from it.
        return render(
            request,
            "subscriptions/privacy/request_sent.html",
            {"contact": contact, "action": action, "is_erase": action == PrivacyAction.ERASE},
        )


def _verified(token: str, action: str):
    contact, nonce = read_privacy_token(token, action)
    return contact, privacy_request_check(contact=contact, action=action, nonce=nonce)


@never_cache
@require_http_methods(["GET", "POST"])
def privacy_export(request, token: str):
    """The emailed download link: GET shows a button, POST returns the JSON file once."""
    try:
        contact, privacy_req = _verified(token, PrivacyAction.EXPORT)
    except (BadToken, PrivacyLinkUsed) as problem:
        return _bad_privacy_link(request, problem)
    if request.method == "GET":
        with translation.override(contact.locale):
            return render(request, "subscriptions/privacy/export.html", {"contact": contact})
    try:
        with transaction.atomic():
            privacy_request_use(request=privacy_req)
            by = Actor.from_request(request, Source.PREFERENCE_PAGE, actor="data subject")
            data = contact_export(contact=contact, by=by)
    except (PrivacyLinkUsed, ContactAlreadyErased) as problem:
        return _bad_privacy_link(request, problem)
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def privacy_erase(request, token: str):
    """The emailed erasure link: GET asks for confirmation, POST erases."""
    try:
        contact, privacy_req = _verified(token, PrivacyAction.ERASE)
    except (BadToken, PrivacyLinkUsed) as problem:
        return _bad_privacy_link(request, problem)
    locale = contact.locale
    if request.method == "GET":
        with translation.override(locale):
            return render(request, "subscriptions/privacy/erase.html", {"contact": contact})
    try:
        with transaction.atomic():
            privacy_request_use(request=privacy_req)
            contact_erase(
                contact=contact,
                by=Actor.from_request(request, Source.PREFERENCE_PAGE, actor="data subject"),
            )
    except (PrivacyLinkUsed, ContactAlreadyErased) as problem:
        return _bad_privacy_link(request, problem)
    with translation.override(locale):
        return render(request, "subscriptions/privacy/erased.html")
