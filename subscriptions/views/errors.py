"""The public pages' error answers, written once: one styled page (subscriptions/error.html)
with a status, a title and a message, and the few answers several views give alike (a link that
does not work, a rate limit, a queue that is down). Rule 7: bad input gets a clear page, never a
500, and changes nothing.
"""

from __future__ import annotations

import logging
import sys

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from .. import ratelimit
from ..api.errors import (
    DATABASE_ERRORS,
    DATABASE_RETRY_AFTER_SECONDS,
    body,
    database_unavailable_body,
)
from ..consent.tokens import BadToken, ContactGone

log = logging.getLogger(__name__)

# Paths whose callers are programs (API clients, ESP webhooks): they get the JSON error.
_MACHINE_PATHS = ("/api/", "/anymail/")


def error_page(request, *, status: int, title: str, message: str) -> HttpResponse:
    """The styled error page every public view answers a refusal with."""
    context = {"title": title, "message": message, "status": status}
    return render(request, "subscriptions/error.html", context, status=status)


def gone_response(request) -> HttpResponse:
    """The page for a genuine link whose contact was erased (or never confirmed and removed)."""
    return error_page(
        request,
        status=410,
        title=_("This link is no longer valid"),
        message=_(
            "The personal data behind this link has been erased. We keep no preferences for "
            "this address any more, and we will not send it marketing emails."
        ),
    )


def bad_link(request, problem: BadToken | None = None) -> HttpResponse:
    """A mailed link (unsubscribe, preferences, confirmation) that names nobody: erased, expired
    or mangled."""
    if isinstance(problem, ContactGone):  # a genuine link of an erased contact
        return gone_response(request)
    if problem is not None and str(problem) == "expired":
        return error_page(
            request,
            status=410,
            title=_("This link has expired"),
            message=_("For your safety this link only works for a while. Please sign up again."),
        )
    return error_page(
        request,
        status=404,
        title=_("This link does not work"),
        message=_(
            "The link may be incomplete or mistyped. Copy the whole link from the email, "
            "or ask for a new link to your preferences."
        ),
    )


def rate_limited(request, rate: str) -> HttpResponse:
    """429 with Retry-After: the length of the limit's window, as the admin sign-in says."""
    response = error_page(
        request,
        status=429,
        title=_("Too many requests"),
        message=_("Please wait a while and try again."),
    )
    response["Retry-After"] = str(ratelimit.parse_rate(rate)[1])
    return response


def try_again_soon(request) -> HttpResponse:
    """The broker is down: nothing was queued or changed, so say so instead of pretending it
    worked (a database that is down answers database_unavailable)."""
    response = error_page(
        request,
        status=503,
        title=_("Please try again in a minute"),
        message=_("We could not take your request just now. Nothing was sent or changed."),
    )
    response["Retry-After"] = "60"
    return response


def post_data(request):
    """The form body, or an empty one when it cannot be parsed (bad multipart, bad charset)."""
    try:
        return request.POST
    except Exception:
        return {}


# --- the database is down --------------------------------------------------------------------


def database_unavailable(request, exception: BaseException) -> HttpResponse:
    """503 with Retry-After for a database that cannot be reached: the JSON error for programs,
    for a person a styled page that says their choice was not saved (rule 2: an unsubscribe is
    written before it is answered, so nothing was).

    A mail client's one-click POST or an ESP's webhook sees a temporary failure it retries.
    Logged here, without the path (it holds tokens), since answering hides the exception.
    """
    log.error("database error, answered 503: %s", str(exception).strip())
    if request.path_info.startswith(_MACHINE_PATHS):
        response = JsonResponse(database_unavailable_body(), status=503)
    else:
        response = _page_or_text(
            request,
            status=503,
            title=_("Temporarily unavailable"),
            message=_(
                "Your choice was not saved. Nothing was sent or changed. "
                "Please try again in a minute."
            ),
        )
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    # Django would log it again, path and all.
    response._has_been_logged = True
    return response


def _page_or_text(request, *, status: int, title: str, message: str) -> HttpResponse:
    """The styled page, or its words in plain text when the page itself cannot be rendered (the
    error came from a template, or rendering needed what is down): never a bare 500."""
    try:
        return error_page(request, status=status, title=title, message=message)
    except Exception:
        return HttpResponse(
            f"{title}\n\n{message}\n",
            status=status,
            content_type="text/plain; charset=utf-8",
        )


# --- handler400/403/404/500 (prefcenter/urls.py): styled, translated, with a link home --------


def bad_request(request, exception=None) -> HttpResponse:
    if request.path_info.startswith(_MACHINE_PATHS):
        return JsonResponse(body("bad_request", "The request could not be read."), status=400)
    return _page_or_text(
        request,
        status=400,
        title=_("Something went wrong"),
        message=_("We did not understand that request. Nothing was changed."),
    )


def permission_denied(request, exception=None) -> HttpResponse:
    if request.path_info.startswith(_MACHINE_PATHS):
        return JsonResponse(body("forbidden", "You may not do this."), status=403)
    return _page_or_text(
        request,
        status=403,
        title=_("You cannot open this page"),
        message=_("Nothing was changed."),
    )


def page_not_found(request, exception=None) -> HttpResponse:
    if request.path_info.startswith(_MACHINE_PATHS):
        return JsonResponse(body("not_found", "There is nothing here."), status=404)
    return _page_or_text(
        request,
        status=404,
        title=_("Page not found"),
        message=_("There is no page at this address. Check the link, or start from home."),
    )


def server_error(request) -> HttpResponse:
    """An exception no view or middleware answered, raised anywhere (a middleware, a template):
    a database outage still answers 503 (DatabaseUnavailableMiddleware only sees a view's
    exceptions), anything else a styled 500."""
    exception = sys.exc_info()[1]
    if isinstance(exception, DATABASE_ERRORS):
        return database_unavailable(request, exception)
    if request.path_info.startswith(_MACHINE_PATHS):
        return JsonResponse(body("server_error", "Something went wrong on our side."), status=500)
    return _page_or_text(
        request,
        status=500,
        title=_("Something went wrong on our side"),
        message=_("We could not finish your request. Please try again later."),
    )
