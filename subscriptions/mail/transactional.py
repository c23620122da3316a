"""The transactional road: system mail that ignores marketing preferences.

It is refused only for an address suppressed with scope `all` (hard bounce, invalid address).
Each message is a durable TransactionalMessage row, queued on the `transactional` queue after
the transaction commits; a beat sweep re-queues rows the broker never took.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from ..addresses import normalize_email
from ..models import Suppression, TransactionalMessage
from ..models.choices import TransactionalStatus
from .messages import build_transactional_message, render_email, transactional_connection

log = logging.getLogger(__name__)


class AddressSuppressed(Exception):
    """The address is suppressed for all mail; nothing may be sent to it."""

    code = "suppressed"


def send_transactional(
    *,
    to: str,
    subject: str = "",
    text: str = "",
    html: str | None = None,
    template: str | None = None,
    context: dict | None = None,
    locale: str | None = None,
    kind: str = "",
) -> TransactionalMessage:
    """Queue one system message. Raises InvalidAddress, or AddressSuppressed for scope `all`.

    With `template`, subject and bodies come from templates/emails/<template>/.
    """
    to = normalize_email(to)  # the one canonical mailbox, whoever the caller is
    if Suppression.objects.for_address(to).blocking_all_mail().exists():
        raise AddressSuppressed("This address cannot receive mail (hard bounce or invalid).")
    if template:
        subject, text, html = render_email(template, context or {}, locale)
    message = TransactionalMessage.objects.create(
        kind=kind or template or "",
        to_email=to,
        subject=subject,
        text_body=text,
        html_body=html or "",
    )
    transaction.on_commit(lambda: enqueue(message.pk))
    return message


def enqueue(message_id: int) -> None:
    # The service→task pair of mail/: tasks.py imports this module, so the task is looked up here.
    from .tasks import deliver_transactional

    try:
        deliver_transactional.delay(message_id)
    except Exception:  # broker down: the row stays queued and the beat sweep retries it
        log.exception("could not queue transactional message %s", message_id)


def deliver(message_id: int) -> bool:
    """Send a queued message once. Returns False when it was not (or no longer) queued."""
    with transaction.atomic():
        message = (
            TransactionalMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, status=TransactionalStatus.QUEUED)
            .first()
        )
        if message is None:
            return False
        if Suppression.objects.for_address(message.to_email).blocking_all_mail().exists():
            message.status = TransactionalStatus.REFUSED
            message.save(update_fields=["status"])
            return False
        email = build_transactional_message(
            to=message.to_email,
            subject=message.subject,
            text=message.text_body,
            html=message.html_body,
            connection=transactional_connection(),
        )
        email.send()
        status = getattr(email, "anymail_status", None)
        message.esp_message_id = str(getattr(status, "message_id", None) or "")[:200]
        message.status = TransactionalStatus.SENT
        message.sent_at = timezone.now()
        message.save(update_fields=["status", "sent_at", "esp_message_id"])
    return True


def requeue_stale(older_than_seconds: int = 60) -> int:
    """Re-queue messages still `queued` after a while (their task was lost)."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    ids = list(
        TransactionalMessage.objects.filter(
            status=TransactionalStatus.QUEUED, created_at__lt=cutoff
        ).values_list("pk", flat=True)[:1000]
    )
    for pk in ids:
        enqueue(pk)
    return len(ids)
