"""Consent services. This package is the only code that changes a Subscription: these services,
the double opt-in (confirmations.py), implied consent (implied.py) and the merge of two spellings
of an address (canonical.py). Privacy's erasure and retention call them; a test keeps it so.

Every function here runs in one transaction with the ConsentEvent it writes, locks the rows it
changes, writes one ledger row per actual change (none for a no-op), and is called alike by the
pages, the API, the admin, webhooks, imports and commands.

Rule 5 lives in `subscription_subscribe`: an unsubscribe or a suppression is turned back into a
subscription only by the person's own new consent given where their mailbox is proven (a
confirmed double opt-in, or their own preference page).
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from ..models import ConsentEvent, Contact, Subscription, Suppression, Topic
from ..models.choices import (
    Action,
    ImpliedBy,
    LegalBasis,
    Source,
    SubscriptionStatus,
    SuppressionReason,
)
from .errors import ResubscribeRequiresConfirmation, UnknownFrequency
from .ledger import Actor, record
from .suppression import suppression_add

# Where a new consent proves control of the mailbox, so it may undo the person's own opt-out of
# a topic. The preference page counts only from a fresh link (preferences.preferences_apply).
PERSON_PROVEN_SOURCES = frozenset({Source.CONFIRMATION, Source.PREFERENCE_PAGE})
# Suppressions the person caused themselves, and so may lift by a new proven consent.
PERSON_LIFTABLE_REASONS = (
    SuppressionReason.UNSUBSCRIBED_ALL,
    SuppressionReason.COMPLAINT,
    SuppressionReason.ERASED,
)
# Only a confirmation emailed just now and clicked lifts those: a preference link, however
# fresh, may be a forward, an archive or a log line (issue 9, road 1).
SUPPRESSION_LIFTING_SOURCES = frozenset({Source.CONFIRMATION})


# --- helpers ---------------------------------------------------------------------------------


def locked_subscription(contact: Contact, topic: Topic) -> Subscription | None:
    return Subscription.objects.select_for_update().filter(contact=contact, topic=topic).first()


def _opted_out(contact: Contact, subscription: Subscription | None) -> bool:
    """Whether the person left this topic or is suppressed, so only their own proof undoes it.

    A `pending` row that was unsubscribed before (a re-subscribe awaiting confirmation) still
    counts as opted out: pending is a request, not a consent.
    """
    if subscription is not None:
        if subscription.status == SubscriptionStatus.UNSUBSCRIBED:
            return True
        if (
            subscription.status == SubscriptionStatus.PENDING
            and ConsentEvent.objects.filter(
                contact=contact,
                topic=subscription.topic_id,
                new_status=SubscriptionStatus.UNSUBSCRIBED,
            ).exists()
        ):
            return True
    return Suppression.objects.for_contact(contact).exists()


def person_suppressed(contact: Contact) -> bool:
    """Whether the person's own unsubscribe-all, complaint or erasure suppresses the address:
    only a double opt-in confirmation undoes that."""
    return (
        Suppression.objects.for_contact(contact).filter(reason__in=PERSON_LIFTABLE_REASONS).exists()
    )


def _lift_person_suppressions(contact: Contact, by: Actor) -> None:
    lifted = Suppression.objects.for_contact(contact).filter(reason__in=PERSON_LIFTABLE_REASONS)
    reasons = sorted(lifted.values_list("reason", flat=True))
    if reasons:
        lifted.delete()
        record(
            contact=contact,
            action=Action.UNSUPPRESSED,
            by=by,
            old_status=",".join(reasons),
            new_status="",
        )


# --- subscribing -----------------------------------------------------------------------------


@transaction.atomic
def subscription_subscribe(
    *,
    contact: Contact,
    topic: Topic,
    by: Actor,
    legal_basis: str = LegalBasis.CONSENT,
    implied_by: str = ImpliedBy.NONE,
    frequency: str | None = None,
) -> Subscription:
    """Make `contact` subscribed to `topic` now.

    Refuses with ResubscribeRequiresConfirmation when the contact unsubscribed from the topic or
    the address is suppressed, unless the consent comes from a source that proves the mailbox
    (PERSON_PROVEN_SOURCES). The person's own unsubscribe-all, complaint or erasure
    suppression is lifted only by a confirmation (SUPPRESSION_LIFTING_SOURCES); from any other
    source it refuses as well.
    """
    subscription = locked_subscription(contact, topic)
    if _opted_out(contact, subscription):
        if by.source not in PERSON_PROVEN_SOURCES:
            raise ResubscribeRequiresConfirmation(
                "This person opted out; only their own confirmed consent can subscribe them again."
            )
        if by.source not in SUPPRESSION_LIFTING_SOURCES and person_suppressed(contact):
            raise ResubscribeRequiresConfirmation(
                "This person unsubscribed from all or complained; only a confirmation email "
                "can subscribe them again."
            )
        _lift_person_suppressions(contact, by)
    if subscription is None:
        subscription = Subscription(contact=contact, topic=topic)
        old_status = ""
    else:
        old_status = subscription.status
    if old_status == SubscriptionStatus.SUBSCRIBED:
        return subscription
    now = timezone.now()
    subscription.status = SubscriptionStatus.SUBSCRIBED
    subscription.legal_basis = legal_basis
    subscription.implied_by = implied_by if legal_basis == LegalBasis.SOFT_OPT_IN else ""
    subscription.implied_at = now if subscription.implied_by else None
    subscription.frequency = frequency or subscription.frequency or topic.default_frequency
    if frequency is None and subscription.frequency not in topic.offered_frequencies:
        subscription.frequency = topic.default_frequency
    subscription.paused_until = None
    subscription.consented_at = now
    subscription.save()
    record(
        contact=contact,
        topic=topic,
        action=Action.CONFIRMED if by.source == Source.CONFIRMATION else Action.SUBSCRIBED,
        by=by,
        old_status=old_status,
        new_status=SubscriptionStatus.SUBSCRIBED,
    )
    return subscription


# --- leaving ---------------------------------------------------------------------------------


@transaction.atomic
def subscription_unsubscribe(*, contact: Contact, topic: Topic, by: Actor) -> bool:
    """Unsubscribe `contact` from `topic`. Idempotent; returns whether anything changed.

    With no subscription row at all, an unsubscribed one is written, so that the opt-out is on
    record before any later import or API call could subscribe the person.
    """
    subscription = locked_subscription(contact, topic)
    if subscription is not None and subscription.status == SubscriptionStatus.UNSUBSCRIBED:
        return False
    old_status = subscription.status if subscription else ""
    if subscription is None:
        subscription = Subscription(contact=contact, topic=topic, frequency=topic.default_frequency)
    subscription.status = SubscriptionStatus.UNSUBSCRIBED
    subscription.paused_until = None
    subscription.save()
    record(
        contact=contact,
        topic=topic,
        action=Action.UNSUBSCRIBED,
        by=by,
        old_status=old_status,
        new_status=SubscriptionStatus.UNSUBSCRIBED,
    )
    return True


@transaction.atomic
def contact_unsubscribe_all(*, contact: Contact, by: Actor, note: str = "") -> int:
    """Unsubscribe from every topic and add a marketing-scope suppression.

    Writes one row per subscription that changed and one for the unsubscribe-all itself (unless
    it was already in force: suppression_add). Returns how many subscriptions changed.
    """
    changed = 0
    subscriptions = Subscription.objects.select_for_update().filter(contact=contact)
    for subscription in subscriptions.exclude(status=SubscriptionStatus.UNSUBSCRIBED):
        old_status = subscription.status
        subscription.status = SubscriptionStatus.UNSUBSCRIBED
        subscription.paused_until = None
        subscription.save(update_fields=["status", "paused_until", "updated_at"])
        record(
            contact=contact,
            topic=subscription.topic,
            action=Action.UNSUBSCRIBED,
            by=by,
            old_status=old_status,
            new_status=SubscriptionStatus.UNSUBSCRIBED,
        )
        changed += 1
    # Records the unsubscribe-all itself, unless it was already in force.
    suppression_add(
        hashed=contact.address_hash,
        reason=SuppressionReason.UNSUBSCRIBED_ALL,
        by=by,
        contact=contact,
        note=note,
    )
    return changed


# --- pausing and frequency -------------------------------------------------------------------


@transaction.atomic
def subscription_pause(
    *, contact: Contact, until: datetime.datetime, by: Actor, topic: Topic | None = None
) -> int:
    """Pause every subscribed topic (or one) until `until`. Returns how many changed."""
    subscriptions = Subscription.objects.select_for_update().filter(
        contact=contact, status=SubscriptionStatus.SUBSCRIBED
    )
    if topic is not None:
        subscriptions = subscriptions.filter(topic=topic)
    changed = 0
    for subscription in subscriptions.select_related("topic"):
        if subscription.paused_until == until:
            continue
        subscription.paused_until = until
        subscription.save(update_fields=["paused_until", "updated_at"])
        record(
            contact=contact,
            topic=subscription.topic,
            action=Action.PAUSED,
            by=by,
            old_status=subscription.status,
            new_status=f"paused:{until.date().isoformat()}",
        )
        changed += 1
    return changed


@transaction.atomic
def subscription_resume(*, contact: Contact, by: Actor, topic: Topic | None = None) -> int:
    """End any pause now. Returns how many subscriptions changed."""
    subscriptions = Subscription.objects.select_for_update().filter(
        contact=contact, paused_until__gt=timezone.now()
    )
    if topic is not None:
        subscriptions = subscriptions.filter(topic=topic)
    changed = 0
    for subscription in subscriptions.select_related("topic"):
        subscription.paused_until = None
        subscription.save(update_fields=["paused_until", "updated_at"])
        record(
            contact=contact,
            topic=subscription.topic,
            action=Action.RESUMED,
            by=by,
            old_status="paused",
            new_status=subscription.status,
        )
        changed += 1
    return changed


@transaction.atomic
def subscription_set_frequency(
    *, contact: Contact, topic: Topic, frequency: str, by: Actor
) -> bool:
    """Change how often the contact hears about `topic`. Returns whether anything changed."""
    if frequency not in topic.offered_frequencies:
        raise UnknownFrequency(f"{topic.slug} does not offer {frequency!r}.")
    subscription = locked_subscription(contact, topic)
    if subscription is None or subscription.frequency == frequency:
        return False
    old = subscription.frequency
    subscription.frequency = frequency
    subscription.save(update_fields=["frequency", "updated_at"])
    record(
        contact=contact,
        topic=topic,
        action=Action.FREQUENCY_CHANGED,
        by=by,
        old_status=old,
        new_status=frequency,
    )
    return True
