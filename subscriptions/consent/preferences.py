"""Applying the preference page: what a person's choices change, and how.

The page, the signed-in account page and anything else that offers the same form call
`preferences_apply`; the rule for joining a topic from an old (possibly forwarded) link lives
here once.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import ConsentEvent, Contact, Subscription, Topic
from ..models.choices import LinkVia, SubscriptionStatus
from .confirmations import subscription_request
from .errors import UnknownFrequency
from .ledger import Actor
from .subscriptions import (
    person_suppressed,
    subscription_set_frequency,
    subscription_subscribe,
    subscription_unsubscribe,
)

# Where a page is reached without a mailbox ever being proven: the signed-in account page (a
# login proves an account, and staff can point a contact's `user` at themselves) and a host
# product's link (the host proved its own login, not the mailbox). From there, taking back an
# opt-out would be someone else's word dressed as the person's own consent (rule 5), so
# re-joining a topic the person left is confirmed by email.
REJOIN_CONFIRMED_VIAS = frozenset({LinkVia.ACCOUNT, LinkVia.STAFF_ACCOUNT, LinkVia.HOST_LINK})
# A staff session proves nothing about the person at all: staff can give their own account
# anyone's address, or link anyone's contact to it in the admin. Every join from it is only a
# confirmation emailed to the person, never a consent recorded in their name.
JOIN_CONFIRMED_VIAS = frozenset({LinkVia.STAFF_ACCOUNT})


@dataclass(frozen=True)
class TopicChoice:
    """What the person chose for one topic on the page."""

    subscribed: bool
    frequency: str | None = None


@dataclass
class PreferencesResult:
    joined: list[Topic] = field(default_factory=list)
    left: list[Topic] = field(default_factory=list)
    frequency_changed: list[Topic] = field(default_factory=list)
    # Joins from an old link: a double opt-in confirmation was emailed instead.
    awaiting_confirmation: list[Topic] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.joined or self.left or self.frequency_changed)


def link_allows_direct_join(
    link_issued_at: datetime.datetime, now: datetime.datetime | None = None
) -> bool:
    """A fresh preference link proves the mailbox; an old one may have been forwarded."""
    max_age = datetime.timedelta(days=settings.PREFERENCE_LINK_JOIN_MAX_AGE_DAYS)
    return (now or timezone.now()) - link_issued_at < max_age


def _left_before(contact: Contact, subscription: Subscription | None) -> bool:
    """Whether the person left this topic (a pending row may be a re-join awaiting proof)."""
    if subscription is None:
        return False
    if subscription.status == SubscriptionStatus.UNSUBSCRIBED:
        return True
    return ConsentEvent.objects.filter(
        contact=contact, topic=subscription.topic_id, new_status=SubscriptionStatus.UNSUBSCRIBED
    ).exists()


def preferences_topics() -> list[Topic]:
    """The topics the page offers: every active one, in their display order."""
    return list(Topic.objects.filter(is_active=True))


@transaction.atomic
def preferences_apply(
    *,
    contact: Contact,
    choices: dict[str, TopicChoice],
    by: Actor,
    link_issued_at: datetime.datetime,
    link_via: str = LinkVia.CAMPAIGN,
) -> PreferencesResult:
    """Apply the page's choices, keyed by topic slug. Unknown or inactive slugs are ignored.

    Writes exactly one ledger row per actual change (through the consent services) and none for
    a topic left as it was. A pending topic left off stays pending. Joining a topic the person
    is not subscribed to is a new consent recorded with `by.wording` when the link was issued
    less than PREFERENCE_LINK_JOIN_MAX_AGE_DAYS ago; from an older link a double opt-in
    confirmation is emailed instead. While the person's own unsubscribe-all, complaint or
    erasure suppresses the address, every join is confirmed by email, however fresh the link:
    only a confirmation lifts those. From a page reached without a proven mailbox
    (REJOIN_CONFIRMED_VIAS: the signed-in account page, a host product's link), re-joining a
    topic the person left is confirmed by email too; from a staff session (JOIN_CONFIRMED_VIAS)
    every join is. Raises UnknownFrequency for a frequency the topic does
    not offer, before anything changes.
    """
    topics = {t.slug: t for t in preferences_topics() if t.slug in choices}
    for slug, topic in topics.items():
        frequency = choices[slug].frequency
        if frequency and frequency not in topic.offered_frequencies:
            raise UnknownFrequency(f"{slug} does not offer {frequency!r}.")
    current = {
        s.topic_id: s
        for s in Subscription.objects.filter(contact=contact, topic__in=topics.values())
    }
    direct = (
        link_via not in JOIN_CONFIRMED_VIAS
        and link_allows_direct_join(link_issued_at)
        and not person_suppressed(contact)
    )
    result = PreferencesResult()
    to_confirm: list[Topic] = []
    for slug, topic in topics.items():
        choice = choices[slug]
        subscription = current.get(topic.pk)
        status = subscription.status if subscription else ""
        if choice.subscribed and status == SubscriptionStatus.SUBSCRIBED:
            if choice.frequency and subscription_set_frequency(
                contact=contact, topic=topic, frequency=choice.frequency, by=by
            ):
                result.frequency_changed.append(topic)
        elif (
            choice.subscribed
            and direct
            and not (link_via in REJOIN_CONFIRMED_VIAS and _left_before(contact, subscription))
        ):
            subscription_subscribe(
                contact=contact, topic=topic, by=by, frequency=choice.frequency or None
            )
            result.joined.append(topic)
        elif choice.subscribed:
            to_confirm.append(topic)
        elif status == SubscriptionStatus.SUBSCRIBED:
            subscription_unsubscribe(contact=contact, topic=topic, by=by)
            result.left.append(topic)
    if to_confirm:
        subscription_request(contact=contact, topics=to_confirm, by=by)
        result.awaiting_confirmation = to_confirm
    return result
