"""Implied consent (soft opt-in): renewed by a purchase or an inquiry, lapsed by retention.

Privacy's retention decides which soft opt-ins are too old (its settings); the change itself,
and its ledger row, happen here like every other change of a Subscription.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..models import Contact, Subscription
from ..models.choices import Action, ImpliedBy, LegalBasis, SubscriptionStatus
from .ledger import Actor, record


class UnknownSignal(ValueError):
    code = "unknown_signal"


@transaction.atomic
def contact_record_signal(
    *, contact: Contact, kind: str, at: datetime.datetime | None = None
) -> int:
    """Record a purchase or inquiry: renews the contact's implied (soft opt-in) consents.

    A purchase renews every soft opt-in (a purchase is the stronger relationship and restarts
    the longer period); an inquiry renews only inquiry-based ones, and never shortens a
    purchase-based one. Lapsed (unsubscribed) consents are not revived. Returns how many
    subscriptions were renewed.
    """
    if kind not in (ImpliedBy.PURCHASE, ImpliedBy.INQUIRY):
        raise UnknownSignal(f"unknown signal {kind!r}; use 'purchase' or 'inquiry'")
    at = at or timezone.now()
    subscriptions = Subscription.objects.filter(
        contact=contact,
        status=SubscriptionStatus.SUBSCRIBED,
        legal_basis=LegalBasis.SOFT_OPT_IN,
    ).filter(Q(implied_at__isnull=True) | Q(implied_at__lt=at))
    if kind == ImpliedBy.INQUIRY:
        subscriptions = subscriptions.filter(implied_by=ImpliedBy.INQUIRY)
    return subscriptions.update(implied_by=kind, implied_at=at, updated_at=timezone.now())


def subscriptions_lapse_soft_opt_in(*, selection: QuerySet[Subscription], by: Actor) -> int:
    """Unsubscribe every subscribed soft opt-in that `selection` names, one `lapsed` ledger row
    each, one transaction per subscription. Returns how many lapsed.

    `selection` is evaluated again under each row's lock, so a subscription a purchase renewed
    (or the person changed) since the caller's scan is left alone.
    """
    selection = selection.filter(
        status=SubscriptionStatus.SUBSCRIBED, legal_basis=LegalBasis.SOFT_OPT_IN
    )
    done = 0
    for pk in selection.values_list("pk", flat=True).iterator(chunk_size=1000):
        with transaction.atomic():
            subscription = (
                selection.select_for_update()
                .select_related("contact", "topic")
                .filter(pk=pk)
                .first()
            )
            if subscription is None:
                continue
            subscription.status = SubscriptionStatus.UNSUBSCRIBED
            subscription.paused_until = None
            subscription.save(update_fields=["status", "paused_until", "updated_at"])
            record(
                contact=subscription.contact,
                topic=subscription.topic,
                action=Action.LAPSED,
                by=by,
                old_status=SubscriptionStatus.SUBSCRIBED,
                new_status=SubscriptionStatus.UNSUBSCRIBED,
            )
            done += 1
    return done


@transaction.atomic
def subscriptions_withdraw_unconfirmed(*, contact: Contact, by: Actor) -> int:
    """Remove every subscription of a contact who never confirmed any (their erasure without a
    suppression), one `lapsed` ledger row each. Returns how many were removed."""
    removed = 0
    subscriptions = Subscription.objects.select_for_update(of=("self",)).filter(contact=contact)
    for subscription in subscriptions.select_related("topic"):
        record(
            contact=contact,
            topic=subscription.topic,
            action=Action.LAPSED,
            by=by,
            old_status=subscription.status,
            new_status="",
        )
        subscription.delete()
        removed += 1
    return removed
