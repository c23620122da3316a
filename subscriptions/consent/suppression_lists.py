"""Staff management of the suppression list: add one or many, remove with a reason."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction

from ..addresses import InvalidAddress
from ..models import Contact, Suppression, SuppressionRemoval
from ..models.choices import Action
from .ledger import Actor, record
from .suppression import suppression_add

_SEPARATORS = re.compile(r"[,;\t ]+")


@dataclass
class BulkResult:
    added: int = 0
    already: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)


def suppression_add_many(
    *, lines: Iterable[str], reason: str, scope: str | None, by: Actor, note: str = ""
) -> BulkResult:
    """Suppress every address in a text or CSV list (one or more per line; a header line
    without an @ is skipped). Unreadable addresses are reported by line number."""
    result = BulkResult()
    for number, line in enumerate(lines, start=1):
        for token in _SEPARATORS.split(line.strip().strip("\ufeff")):
            token = token.strip().strip('"').strip("'")
            if not token:
                continue
            if "@" not in token:
                if number == 1:
                    continue  # a header such as "email"
                result.invalid.append((number, token[:100]))
                continue
            try:
                _suppression, created = suppression_add(
                    email=token, reason=reason, scope=scope, by=by, note=note
                )
            except InvalidAddress:
                result.invalid.append((number, token[:100]))
                continue
            if created:
                result.added += 1
            else:
                result.already += 1
    return result


@transaction.atomic
def suppression_remove(*, suppression: Suppression, why: str, by: Actor) -> SuppressionRemoval:
    """Lift one suppression. `why` is required; the removal is logged with the staff user, and
    a contact with the address gets an `unsuppressed` ledger row."""
    why = (why or "").strip()
    if not why:
        raise ValueError("A reason is required to remove a suppression.")
    removal = SuppressionRemoval.objects.create(
        address_hash=suppression.address_hash,
        reasons=suppression.reason,
        why=why,
        removed_by=by.staff_user if getattr(by.staff_user, "pk", None) else None,
    )
    # A row written under an older canonical form names its contact through that contact's
    # kept hashes, as the suppression itself did.
    contact = Contact.objects.active().with_hash(suppression.address_hash).first()
    suppression.delete()
    if contact is not None:
        record(
            contact=contact,
            action=Action.UNSUPPRESSED,
            by=by,
            old_status=suppression.reason,
        )
    return removal
