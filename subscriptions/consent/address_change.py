"""Changing a contact's address without losing their opt-outs."""

from __future__ import annotations

import dataclasses

from django.db import transaction

from ..addresses import address_hash, address_key, normalize_email
from ..models import Contact, Suppression
from ..models.choices import Action, SuppressionReason
from .canonical import contact_alias_hashes_sync
from .errors import ConsentError
from .ledger import Actor, record
from .suppression import suppression_add

# Opt-outs belong to the person and follow them to the new address. Bounces and invalid-address
# suppressions describe the old mailbox only, so they stay on the old hash and are not copied.
FOLLOWING_REASONS = (
    SuppressionReason.UNSUBSCRIBED_ALL,
    SuppressionReason.COMPLAINT,
    SuppressionReason.MANUAL,
    SuppressionReason.ERASED,
)


class AddressInUse(ConsentError):
    """Another contact already has the new address."""

    code = "address_in_use"


@transaction.atomic
def contact_change_email(*, contact: Contact, new_email: str, by: Actor) -> bool:
    """Give `contact` a new address. Returns whether anything changed.

    The person's suppressions (opt-outs) are copied to the new address; every suppression of
    the old address stays, so it is never mailed again either. Writes one ConsentEvent
    (address_changed). Raises InvalidAddress or AddressInUse.
    """
    normalized = normalize_email(new_email)
    key = address_key(normalized)
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if contact.email == normalized:
        return False
    if Contact.objects.active().filter(email_key=key).exclude(pk=contact.pk).exists():
        raise AddressInUse("Another contact already has this address.")
    old_email, new_hash = contact.email, address_hash(normalized)
    for suppression in Suppression.objects.for_contact(contact).filter(
        reason__in=FOLLOWING_REASONS
    ):
        # The new address is nobody's yet, so this writes no ledger row: the opt-out is
        # already on record, and the address change gets its own row below.
        suppression_add(
            hashed=new_hash,
            reason=suppression.reason,
            scope=suppression.scope,
            by=by,
            note=f"followed the address change of contact #{contact.pk}",
            campaign=suppression.campaign,
        )
    contact.email, contact.email_key, contact.address_hash = normalized, key, new_hash
    contact.save(update_fields=["email", "email_key", "address_hash", "updated_at"])
    contact_alias_hashes_sync(contact=contact, replace=True)
    evidence = f"{by.evidence} address {old_email} -> {normalized}".strip()
    record(
        contact=contact,
        action=Action.ADDRESS_CHANGED,
        by=dataclasses.replace(by, evidence=evidence),
    )
    return True
