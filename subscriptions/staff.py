"""Services for staff tools (the admin): changes made by an employee on someone's behalf.

Consent changes themselves go through subscriptions.consent with an Actor whose source is
`admin` and whose staff_user is the employee; this module holds only what staff alone do.
"""

from __future__ import annotations

from django.db import transaction

from .addresses import address_hash
from .ledger import Actor, record
from .models import Contact, Suppression
from .models.choices import Action


@transaction.atomic
def suppression_add_by_staff(
    *, email: str, reason: str, scope: str | None, by: Actor, note: str = ""
) -> Suppression:
    """Put an address on the do-not-mail list by hand, recording who did it.

    Idempotent per reason (a wider scope wins, see suppression_add). When an active contact has
    the address, their ledger gets one `suppressed` row, so the contact's history explains why
    they stopped getting mail. Raises InvalidAddress for an unreadable address.
    """
    from .suppression import suppression_add

    hashed = address_hash(email)
    existed = Suppression.objects.filter(address_hash=hashed, reason=reason).exists()
    suppression = suppression_add(
        hashed=hashed,
        reason=reason,
        scope=scope,
        source=by.source,
        note=note,
        created_by=by.staff_user,
    )
    contact = Contact.objects.active().filter(address_hash=hashed).first()
    if contact is not None and not existed:
        record(
            contact=contact,
            action=Action.SUPPRESSED,
            by=by,
            new_status=reason,
        )
    return suppression
