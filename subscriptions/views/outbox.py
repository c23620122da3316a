"""The outbox pages: the mail the development OutboxBackend wrote, readable in the browser.

Open to anyone when DEBUG (the `make run` stack) and to staff users otherwise; everyone else
gets a 404, so a production site does not even reveal that the pages exist. Without DEBUG the
messages are real people's mail: staff see them with every link token redacted, since a working
confirmation, privacy or fresh preference link would let whoever reads it act as the person
(consent only they can give, their data export).
"""

from __future__ import annotations

import dataclasses

from csp.decorators import csp_replace
from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from prefcenter.log_redaction import redact_link_secrets

from ..mail import outbox


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
    if not settings.DEBUG:
        message = _without_tokens(message)
    return render(request, "subscriptions/outbox/detail.html", {"message": message})


def _without_tokens(message: outbox.OutboxMessage) -> outbox.OutboxMessage:
    """The message as staff may see it: every link token (and `?email=`) replaced."""
    return dataclasses.replace(
        message,
        headers=[(key, redact_link_secrets(value)) for key, value in message.headers],
        text=redact_link_secrets(message.text),
        html=redact_link_secrets(message.html),
        unsubscribe_links=[redact_link_secrets(link) for link in message.unsubscribe_links],
    )
