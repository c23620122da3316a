"""The pages behind the inert links of previews and test sends (DESIGN rule 9).

Hooked at the top of the unsubscribe and preference views: a test link is recognised by its
own salt before any real token is read, and whatever the method, nothing changes.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from ..test_sends import is_test_link


def test_link_response(request, token: str, purpose: str) -> HttpResponse | None:
    """The "this was a test" page when `token` is a test link for `purpose`, else None.

    GET shows the page; POST (a form, multipart, or RFC 8058 one-click) answers 200 with no
    redirect and no cookie, and changes nothing.
    """
    if not is_test_link(token, purpose):
        return None
    context = {"purpose": purpose, "posted": request.method == "POST"}
    return render(request, "subscriptions/test_link.html", context)
