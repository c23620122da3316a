"""System emails sent to contacts about their own consent (all on the transactional road)."""

from __future__ import annotations

import contextlib

from django.conf import settings

from .. import ratelimit
from ..addresses import address_key
from ..mail.transactional import AddressSuppressed, send_transactional
from ..models import ConfirmationRequest, Contact, Topic
from ..models.choices import LinkVia
from .tokens import confirm_url, preferences_url


def send_confirmation_request(*, confirmation: ConfirmationRequest, topics: list[Topic]) -> None:
    """The double opt-in email: one single-use link confirms every topic asked for."""
    contact = confirmation.contact
    try:
        send_transactional(
            to=contact.email,
            template="confirm",
            context={
                "contact": contact,
                "topics": topics,
                "confirm_url": confirm_url(confirmation),
            },
            locale=contact.locale,
        )
    except AddressSuppressed:
        pass  # the caller answers the same either way: no enumeration


def send_preference_link(*, contact: Contact) -> None:
    """A fresh link to the preference page, for someone who lost every email."""
    with contextlib.suppress(AddressSuppressed):
        send_transactional(
            to=contact.email,
            template="preference_link",
            context={
                "contact": contact,
                "preferences_url": preferences_url(contact, via=LinkVia.LOST_LINK),
            },
            locale=contact.locale,
        )


def preference_link_request(*, email: str) -> None:
    """Someone asked for a fresh preference link for `email` (the lost-link form).

    Sends one to a known address unless PREFERENCE_LINK_RATE_LIMIT_EMAIL is exceeded; counts
    unknown addresses too. Returns nothing on purpose: the caller answers the same either way.
    Runs in a queued task (subscriptions.consent.tasks), never on the request path.
    """
    over = ratelimit.hit(
        scope="preflink-email",
        key=address_key(email),
        rate=settings.PREFERENCE_LINK_RATE_LIMIT_EMAIL,
    )
    contact = Contact.objects.by_email(email).first()
    if contact is not None and not over:
        send_preference_link(contact=contact)
