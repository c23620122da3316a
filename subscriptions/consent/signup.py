"""The public sign-up form's rule: find or create the contact, then start a double opt-in."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from ..models import Topic
from .confirmations import subscription_request
from .contacts import contact_get_or_create
from .ledger import Actor


@transaction.atomic
def signup_request(
    *,
    email: str,
    topics: Iterable[Topic],
    by: Actor,
    locale: str | None = None,
    age_confirmed: bool = False,
) -> None:
    """Start a double opt-in for `email` on `topics`. Raises InvalidAddress.

    Returns nothing on purpose: the caller must answer the same whether the address was new,
    known, already subscribed or suppressed. `locale` is kept only for a new contact (a
    stranger must not change a known person's language). An age confirmation is kept with the
    confirmation request and reaches the contact only when the person confirms: whoever types
    a known address must not set it.
    """
    contact, created = contact_get_or_create(email=email)
    if created and locale and contact.locale != locale:
        contact.locale = locale
        contact.save(update_fields=["locale", "updated_at"])
    subscription_request(
        contact=contact, topics=list(topics), by=by, age_confirmed=bool(age_confirmed)
    )
