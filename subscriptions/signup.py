"""The public sign-up form's rule: find or create the contact, then start a double opt-in."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from .consent import contact_get_or_create, subscription_request
from .ledger import Actor
from .models import Topic


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
    stranger must not change a known person's language); an age confirmation is recorded.
    """
    contact, created = contact_get_or_create(email=email)
    changed = []
    if created and locale and contact.locale != locale:
        contact.locale = locale
        changed.append("locale")
    if age_confirmed and not contact.age_confirmed:
        contact.age_confirmed = True
        changed.append("age_confirmed")
    if changed:
        contact.save(update_fields=[*changed, "updated_at"])
    subscription_request(contact=contact, topics=list(topics), by=by)
