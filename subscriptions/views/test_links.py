"""The pages behind the inert links of previews and test sends (DESIGN rule 9).

`answers_test_links(purpose)` decorates the unsubscribe and preference views: a test link is
recognised by its own salt before any real token is read, and whatever the method, nothing
changes.
"""

from __future__ import annotations

import functools

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from ..consent.tokens import is_test_link


def test_link_page(request, purpose: str) -> HttpResponse:
    """The "this was a test" page. GET shows it; POST (a form, multipart, or RFC 8058
    one-click) answers 200 with no redirect and no cookie, and changes nothing."""
    context = {"purpose": purpose, "posted": request.method == "POST"}
    return render(request, "subscriptions/test_link.html", context)


def answers_test_links(purpose: str):
    """Decorate a `view(request, token)`: a test link for `purpose` gets test_link_page.

    A test link's POST must answer 200 without a CSRF token (a one-click client or a script
    posting to the link has none), so the CSRF check moves inside: a real token still gets it
    unless the view itself is exempt.
    """

    def decorator(view):
        # Outermost decorator: an exempt view (one-click) stays exempt.
        checked = view if getattr(view, "csrf_exempt", False) else csrf_protect(view)

        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, token: str, *args, **kwargs):
            if is_test_link(token, purpose):
                return test_link_page(request, purpose)
            return checked(request, token, *args, **kwargs)

        return wrapper

    return decorator
