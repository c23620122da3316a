"""The consent check other systems (a CRM, a sales tool) ask before they contact someone.

The answer comes from the same blocker table sending applies (models.querysets
MARKETABILITY_BLOCKERS through `with_block_reason`), so "marketable" here is exactly "a campaign
on this topic would reach them now".
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Contact, Topic

UNKNOWN_CONTACT = "unknown_contact"


@dataclass(frozen=True)
class ConsentAnswer:
    marketable: bool
    # The first blocker that applies (a delivery's skip reason: `unsubscribed`, `suppressed`,
    # `paused`, ...), `unknown_contact`, or None when marketable.
    reason: str | None


def consent_check(*, contact: Contact | None, topic: Topic) -> ConsentAnswer:
    """Whether `contact` may be sent marketing on `topic` now, and if not, why."""
    if contact is None:
        return ConsentAnswer(marketable=False, reason=UNKNOWN_CONTACT)
    reason = (
        Contact.objects.filter(pk=contact.pk)
        .with_block_reason(topic)
        .values_list("block_reason", flat=True)
        .first()
    )
    if reason is None:  # the row vanished (erased and deleted) since it was looked up
        return ConsentAnswer(marketable=False, reason=UNKNOWN_CONTACT)
    return ConsentAnswer(marketable=reason == "", reason=reason or None)
