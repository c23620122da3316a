"""System emails sent to contacts about their own consent (all on the transactional road)."""

from __future__ import annotations

import contextlib

from .models import Contact, Topic
from .tokens import confirm_url, preferences_url
from .transactional import AddressSuppressed, send_transactional


def send_confirmation_request(*, contact: Contact, topics: list[Topic]) -> None:
    """The double opt-in email: one link confirms every topic asked for."""
    try:
        send_transactional(
            to=contact.email,
            template="confirm",
            context={
                "contact": contact,
                "topics": topics,
                "confirm_url": confirm_url(contact, topics),
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
            context={"contact": contact, "preferences_url": preferences_url(contact)},
            locale=contact.locale,
        )
