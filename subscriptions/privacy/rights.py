"""Privacy rights: what they refuse, and the person's own verified requests to use them.

The rights themselves live beside this module: privacy.export (a copy of the person's data)
and privacy.erasure (its erasure). A request is a one-hour, single-use link mailed to the
address, so only the mailbox's owner can act on it.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..consent.tokens import privacy_url
from ..mail.transactional import AddressSuppressed, send_transactional
from ..models import Contact, PrivacyRequest
from ..models.choices import PrivacyAction


class PrivacyError(Exception):
    code = "privacy_error"


class ContactAlreadyErased(PrivacyError):
    """The contact's personal data is already gone; there is nothing to export or erase."""

    code = "contact_erased"


class PrivacyLinkUsed(PrivacyError):
    """The verification link was already used (or never issued)."""

    code = "link_used"


def privacy_request_start(*, contact: Contact, action: str) -> PrivacyRequest | None:
    """Email the person a one-hour, single-use link to export or erase their data.

    Returns None (and sends nothing) when the contact asked too often in the last hour or the
    address cannot receive mail; callers answer the same either way.
    """
    if action not in PrivacyAction.values:
        raise ValueError(f"unknown privacy action {action!r}")
    if contact.is_erased:
        raise ContactAlreadyErased("This contact has been erased.")
    hour_ago = timezone.now() - datetime.timedelta(hours=1)
    recent = PrivacyRequest.objects.filter(contact=contact, created_at__gte=hour_ago).count()
    if recent >= settings.PRIVACY_REQUESTS_PER_HOUR:
        return None
    with transaction.atomic():
        request = PrivacyRequest.objects.create(contact=contact, action=action)
        try:
            send_transactional(
                to=contact.email,
                template="privacy_verify",
                context={
                    "contact": contact,
                    "action": action,
                    "is_erase": action == PrivacyAction.ERASE,
                    "link": privacy_url(contact, action, request.nonce),
                    "minutes": settings.PRIVACY_LINK_MAX_AGE_MINUTES,
                },
                locale=contact.locale,
                kind=f"privacy_{action}",
            )
        except AddressSuppressed:
            transaction.set_rollback(True)
            return None
    return request


def privacy_request_check(*, contact: Contact, action: str, nonce: str) -> PrivacyRequest:
    """The unused request behind a verified link; PrivacyLinkUsed if used or unknown."""
    request = PrivacyRequest.objects.filter(
        contact=contact, action=action, nonce=nonce, used_at__isnull=True
    ).first()
    if request is None:
        raise PrivacyLinkUsed("This link has already been used.")
    return request


def privacy_request_use(*, request: PrivacyRequest) -> None:
    """Mark the request used; exactly one caller wins, the others get PrivacyLinkUsed."""
    won = PrivacyRequest.objects.filter(pk=request.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if not won:
        raise PrivacyLinkUsed("This link has already been used.")
