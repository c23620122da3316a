"""The public pages' error answers, written once: one styled page (subscriptions/error.html)
with a status, a title and a message, and the few answers several views give alike (a link that
does not work, a rate limit, a queue that is down). Rule 7: bad input gets a clear page, never a
500, and changes nothing.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from .. import ratelimit
from ..consent.tokens import BadToken, ContactGone


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
    """The broker (or, through service_unavailable, the database) is down: nothing was queued or
    changed, so say so instead of pretending it worked."""
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
