"""The do-not-mail list: add, check, remove."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from .addresses import address_hash
from .models import Suppression
from .models.choices import SuppressionReason, SuppressionScope

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
) -> Suppression:
    """Suppress an address (raw or already hashed). Idempotent per reason; a wider scope wins.

    Raises InvalidAddress for an unreadable address.
    """
    hashed = hashed or address_hash(email or "")
    if scope is None:
        scope = SuppressionScope.ALL if reason in ALL_MAIL_REASONS else SuppressionScope.MARKETING
    try:
        with transaction.atomic():
            return Suppression.objects.create(
                address_hash=hashed,
                reason=reason,
                scope=scope,
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


def suppression_check(*, email: str | None = None, hashed: str | None = None) -> SuppressionStatus:
    """Whether an address is suppressed, how widely, and why."""
    hashed = hashed or address_hash(email or "")
    rows = list(Suppression.objects.for_hash(hashed).values_list("reason", "scope"))
    if not rows:
        return SuppressionStatus(suppressed=False, scope=None, reasons=[])
    scopes = {scope for _reason, scope in rows}
    scope = SuppressionScope.ALL if SuppressionScope.ALL in scopes else SuppressionScope.MARKETING
    return SuppressionStatus(suppressed=True, scope=str(scope), reasons=sorted(r for r, _s in rows))


def is_suppressed(hashed: str) -> bool:
    return Suppression.objects.for_hash(hashed).exists()


def blocks_all_mail(hashed: str) -> bool:
    return Suppression.objects.for_hash(hashed).blocking_all_mail().exists()
