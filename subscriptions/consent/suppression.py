"""The do-not-mail list: add, check, remove.

Rows are keyed by a keyed hash of the canonical address and record which version of the
canonical form they hashed; every check matches the hashes of every version of the address
(subscriptions.addresses), because a row can never be re-hashed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from ..addresses import CURRENT_VERSION, address_hash
from ..models import Campaign, Contact, Suppression
from ..models.choices import Action, SuppressionReason, SuppressionScope
from .ledger import Actor, record

# Reasons that also block transactional mail: the address cannot receive anything.
ALL_MAIL_REASONS = {
    SuppressionReason.HARD_BOUNCE,
    SuppressionReason.INVALID,
    SuppressionReason.SOFT_BOUNCE_LIMIT,
}


@dataclass(frozen=True)
class SuppressionStatus:
    suppressed: bool
    scope: str | None
    reasons: list[str]


def suppression_add(
    *,
    email: str | None = None,
    hashed: str | None = None,
    reason: str,
    scope: str | None = None,
    source: str = "",
    note: str = "",
    campaign=None,
    created_by=None,
    hash_version: int = CURRENT_VERSION,
) -> Suppression:
    """Suppress an address (raw or already hashed). Idempotent per reason; a wider scope wins.

    A raw address is hashed in the current canonical form; `hash_version` says which form an
    already `hashed` one is (a contact's own hash is always current). Raises InvalidAddress for
    an unreadable address.
    """
    if hashed is None:
        hash_version = CURRENT_VERSION
    hashed = hashed or address_hash(email or "")
    if scope is None:
        scope = SuppressionScope.ALL if reason in ALL_MAIL_REASONS else SuppressionScope.MARKETING
    try:
        with transaction.atomic():
            return Suppression.objects.create(
                address_hash=hashed,
                reason=reason,
                scope=scope,
                hash_version=hash_version,
                source=source,
                note=note,
                campaign=campaign,
                created_by=created_by if getattr(created_by, "pk", None) else None,
            )
    except IntegrityError:
        existing = Suppression.objects.get(address_hash=hashed, reason=reason)
        if scope == SuppressionScope.ALL and existing.scope != SuppressionScope.ALL:
            existing.scope = SuppressionScope.ALL
            existing.save(update_fields=["scope"])
        return existing


def suppression_add_recorded(
    *,
    hashed: str,
    reason: str,
    scope: str | None,
    by: Actor,
    contact: Contact | None,
    note: str = "",
    campaign: Campaign | None = None,
) -> tuple[Suppression, bool]:
    """Suppress an address (suppression_add, source `by.source`) and, when `contact` has it,
    write one `suppressed` ledger row if the reason is new for the address or its scope
    widened (old_status: the scope it had). Returns (suppression, created).

    The one road of staff (admin), integrations (API) and ESP webhooks. Call in a transaction.
    """
    old_scope = (
        Suppression.objects.filter(address_hash=hashed, reason=reason)
        .values_list("scope", flat=True)
        .first()
    )
    suppression = suppression_add(
        hashed=hashed,
        reason=reason,
        scope=scope,
        source=by.source,
        note=note,
        campaign=campaign,
        created_by=by.staff_user,
    )
    if contact is not None and suppression.scope != old_scope:
        record(
            contact=contact,
            action=Action.SUPPRESSED,
            by=by,
            old_status=old_scope or "",
            new_status=reason,
        )
    return suppression, old_scope is None


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


def blocks_all_mail(*, email: str | None = None, contact: Contact | None = None) -> bool:
    """A suppression of scope `all` (transactional mail too) of a contact's address or a raw
    address, every version of it. Raises InvalidAddress for an unreadable address."""
    return _matching(email=email, contact=contact).blocking_all_mail().exists()
