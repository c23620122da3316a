"""Contacts: one mailbox, one contact, whichever road makes it."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from ..addresses import address_hash, address_key, normalize_email
from ..locales import normalize_locale
from ..models import Contact, Suppression
from ..models.choices import SuppressionReason
from .canonical import contact_alias_hashes_sync
from .errors import ErasedRequiresDoubleOptIn


def contact_get_or_create(
    *,
    email: str,
    external_id: str | None = None,
    locale: str | None = None,
    attributes: dict | None = None,
    refuse_erased: bool = False,
) -> tuple[Contact, bool]:
    """The active contact with this mailbox (its canonical address), created if new.

    Every road that makes a contact comes here, so one mailbox is one contact. Given fields
    update an existing contact; attributes are merged; a locale is stored as the supported
    language it names. With `refuse_erased`, creating a contact for an address whose owner had
    it erased raises ErasedRequiresDoubleOptIn (callers without the person's proof of the
    mailbox). Raises InvalidAddress, InvalidLocale.
    """
    normalized = normalize_email(email)
    key = address_key(normalized)
    locale = normalize_locale(locale) if locale else None
    for _attempt in range(2):
        contact = Contact.objects.active().filter(email_key=key).first()
        if contact is not None:
            changed = []
            if external_id is not None and contact.external_id != external_id:
                contact.external_id = external_id
                changed.append("external_id")
            if locale and contact.locale != locale:
                contact.locale = locale
                changed.append("locale")
            if attributes:
                contact.attributes = {**contact.attributes, **attributes}
                changed.append("attributes")
            if changed:
                contact.save(update_fields=[*changed, "updated_at"])
            return contact, False
        if (
            refuse_erased
            and Suppression.objects.for_address(normalized)
            .filter(reason=SuppressionReason.ERASED)
            .exists()
        ):
            raise ErasedRequiresDoubleOptIn(
                "This address was erased at its owner's request; only a double opt-in "
                "(double_opt_in with topics) can bring it back."
            )
        try:
            with transaction.atomic():
                contact = Contact.objects.create(
                    email=normalized,
                    email_key=key,
                    address_hash=address_hash(normalized),
                    external_id=external_id,
                    locale=locale or "en",
                    attributes=attributes or {},
                )
                contact_alias_hashes_sync(contact=contact)
            return contact, True
        except IntegrityError:
            continue  # created concurrently: read it back
    raise IntegrityError(f"could not create or find contact for {key!r}")
