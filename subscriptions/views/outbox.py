"""The outbox pages: the mail the development OutboxBackend wrote, readable in the browser.

Open to anyone when DEBUG (the `make run` stack) and to staff users otherwise; everyone else
gets a 404, so a production site does not even reveal that the pages exist.
"""

from __future__ import annotations

from csp.decorators import csp_replace
from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .. import outbox


def _require_access(request) -> None:
    if not (settings.DEBUG or (request.user.is_authenticated and request.user.is_staff)):
        raise Http404


@require_GET
def outbox_index(request):
    _require_access(request)
    entries, total = outbox.outbox_list()
    return render(
        request,
        "subscriptions/outbox/list.html",
        {"entries": entries, "total": total, "limit": outbox.LIST_LIMIT},
    )


@require_GET
@csp_replace(settings.CSP_EMAIL_PREVIEW)  # the message's HTML keeps its inline styles
def outbox_message(request, name: str):
    _require_access(request)
    message = outbox.outbox_read(name)
    if message is None:
        raise Http404
    return render(request, "subscriptions/outbox/detail.html", {"message": message})
