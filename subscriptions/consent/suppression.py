"""The do-not-mail list: add, check, remove.

Rows are keyed by a keyed hash of the canonical address and record which version of the
canonical form they hashed; every check matches the hashes of every version of the address
(subscriptions.addresses), because a row can never be re-hashed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from ..addresses import CURRENT_VERSION, address_hash
from ..models import Campaign, Contact, Suppression
from ..models.choices import (
    Action,
    OutboundEventType,
    SuppressionReason,
    SuppressionScope,
    suppression_default_scope,
)
from .events import outbound_event_emit
from .ledger import Actor, record


@dataclass(frozen=True)
class SuppressionStatus:
    suppressed: bool
    scope: str | None
    reasons: list[str]


# The ledger action an added suppression is recorded as; every other reason is `suppressed`.
LEDGER_ACTIONS = {SuppressionReason.UNSUBSCRIBED_ALL: Action.UNSUBSCRIBED_ALL}


def _widest(scopes: Iterable[str]) -> str | None:
    scopes = set(scopes)
    if SuppressionScope.ALL in scopes:
        return SuppressionScope.ALL
    return SuppressionScope.MARKETING if scopes else None


def suppression_add(
    *,
    reason: str,
    by: Actor,
    email: str | None = None,
    hashed: str | None = None,
    hash_version: int = CURRENT_VERSION,
    contact: Contact | None = None,
    scope: str | None = None,
    note: str = "",
    campaign: Campaign | None = None,
) -> tuple[Suppression, bool]:
    """Suppress an address (raw `email`, or `hashed`) and record it in the ledger: the one road
    of every suppression (staff, API, ESP webhooks, unsubscribe-all, erasure, address change,
    seeding). Returns (suppression, created).

    Idempotent per reason: an address already suppressed for `reason` at this scope or wider
    (under any version of its canonical form) changes nothing; a wider scope widens the row.
    The scope defaults to the reason's (suppression_default_scope). A raw address is hashed in
    the current canonical form; `hash_version` says which form an already `hashed` one is.

    The ledger rule, once: when the address belongs to a contact (`contact`, or the active
    contact whose address hashes to it) and the reason is new for the address or its scope
    widened, one row is written (LEDGER_ACTIONS; old_status: the scope the reason had,
    new_status: the reason); never a second one for the same state. The row and the
    suppression commit together, with a `suppression.added` event (consent.events) whenever a
    reason is new or widened, contact or not. Raises InvalidAddress for an unreadable address.
    """
    if hashed is None:
        hashed, hash_version = address_hash(email or ""), CURRENT_VERSION
    scope = scope or suppression_default_scope(reason)
    with transaction.atomic():
        if contact is None:
            contact = Contact.objects.active().with_hash(hashed).first()
        if contact is not None:
            known = Suppression.objects.for_contact(contact)
        elif email is not None:
            known = Suppression.objects.for_address(email)
        else:
            known = Suppression.objects.filter(address_hash=hashed)
        known = known.filter(reason=reason)
        old_scope = _widest(known.values_list("scope", flat=True))
        if old_scope is not None and (old_scope == scope or old_scope == SuppressionScope.ALL):
            existing = known.filter(address_hash=hashed).first() or known.first()
            return existing, False
        suppression, prior_scope = _upsert(
            hashed=hashed,
            reason=reason,
            scope=scope,
            hash_version=hash_version,
            source=by.source,
            note=note,
            campaign=campaign,
            created_by=by.staff_user,
        )
        # A concurrent call may have written the row (and its ledger row) first.
        changed = prior_scope != suppression.scope
        if contact is not None and changed:
            record(
                contact=contact,
                action=LEDGER_ACTIONS.get(reason, Action.SUPPRESSED),
                by=by,
                old_status=old_scope or prior_scope or "",
                new_status=reason,
            )
        if changed:
            # Never the address: the receiver may know the contact, the address stays a hash.
            outbound_event_emit(
                event_type=OutboundEventType.SUPPRESSION_ADDED,
                data={
                    "reason": reason,
                    "scope": suppression.scope,
                    "contact_id": contact.pk if contact else None,
                },
                contact_id=contact.pk if contact else None,
            )
    return suppression, prior_scope is None and old_scope is None


def _upsert(*, hashed: str, reason: str, scope: str, **fields) -> tuple[Suppression, str | None]:
    """Create the (hash, reason) row, or widen the scope of the one a concurrent call made.
    Returns (row, the scope it had before: None when created now)."""
    created_by = fields.pop("created_by")
    try:
        with transaction.atomic():
            suppression = Suppression.objects.create(
                address_hash=hashed,
                reason=reason,
                scope=scope,
                created_by=created_by if getattr(created_by, "pk", None) else None,
                **fields,
            )
            return suppression, None
    except IntegrityError:
        existing = Suppression.objects.select_for_update().get(address_hash=hashed, reason=reason)
        prior = existing.scope
        if scope == SuppressionScope.ALL and prior != SuppressionScope.ALL:
            existing.scope = SuppressionScope.ALL
            existing.save(update_fields=["scope"])
        return existing, prior


def _matching(*, email: str | None, contact: Contact | None):
    """Rows of every hash the address may carry. There is no check by one hash: a row written
    under an older canonical form would be missed (rows are never re-hashed)."""
    if contact is not None:
        return Suppression.objects.for_contact(contact)
    return Suppression.objects.for_address(email or "")


def suppression_check(
    *, email: str | None = None, contact: Contact | None = None
) -> SuppressionStatus:
    """Whether an address (every version of its canonical form) is suppressed, how, and why.

    Raises InvalidAddress for an unreadable address.
    """
    rows = list(_matching(email=email, contact=contact).values_list("reason", "scope"))
    if not rows:
        return SuppressionStatus(suppressed=False, scope=None, reasons=[])
    scopes = {scope for _reason, scope in rows}
    scope = SuppressionScope.ALL if SuppressionScope.ALL in scopes else SuppressionScope.MARKETING
    reasons = sorted({reason for reason, _scope in rows})
    return SuppressionStatus(suppressed=True, scope=str(scope), reasons=reasons)
