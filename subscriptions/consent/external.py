"""What an integration (the HTTP API, a CRM) may set about a person.

An integration cannot prove the mailbox, so it never brings back an address its owner erased
nor turns an opt-out into a subscription (rule 5): for either it may only ask the person, by a
double opt-in confirmation.
"""

from __future__ import annotations

from django.db import transaction

from ..mail.transactional import AddressSuppressed
from ..models import Contact, Subscription, Suppression, Topic
from ..models.choices import SubscriptionStatus
from .confirmations import subscription_request
from .contacts import contact_get_or_create
from .ledger import Actor
from .subscriptions import (
    subscription_set_frequency,
    subscription_subscribe,
    subscription_unsubscribe,
)


def contact_put(
    *,
    email: str,
    by: Actor,
    external_id: str | None = None,
    locale: str | None = None,
    attributes: dict | None = None,
    topics: list[Topic] | None = None,
    double_opt_in: bool = False,
) -> tuple[Contact, bool]:
    """Create or update a contact as an integration asks. Returns (contact, created).

    An integration may not bring back an address its owner had erased
    (ErasedRequiresDoubleOptIn) unless it asks for a `double_opt_in` on `topics`: then the
    contact is created and the person is emailed a confirmation (their subscriptions stay
    `pending` and guarded as opt-outs until they confirm). Raises InvalidAddress,
    InvalidLocale; AddressSuppressed when a confirmation cannot be sent.
    """
    contact, created = contact_get_or_create(
        email=email,
        external_id=external_id,
        locale=locale,
        attributes=attributes,
        refuse_erased=not double_opt_in,
    )
    if double_opt_in and topics:
        _require_mailable(contact)
        subscription_request(contact=contact, topics=topics, by=by)
    return contact, created


def _require_mailable(contact: Contact) -> None:
    """A double opt-in needs a mailbox that can receive its confirmation."""
    if Suppression.objects.for_contact(contact).blocking_all_mail().exists():
        raise AddressSuppressed("This address cannot receive mail, not even a confirmation.")


def subscription_put(
    *,
    contact: Contact,
    topic: Topic,
    status: str,
    by: Actor,
    legal_basis: str,
    implied_by: str = "",
    frequency: str | None = None,
    double_opt_in: bool = False,
) -> tuple[Subscription, bool]:
    """Set a contact's standing on a topic as an integration asks. Returns (row, confirmation sent).

    Subscribing someone who opted out raises ResubscribeRequiresConfirmation (rule 5) unless
    `double_opt_in`: then a confirmation is emailed and the row changes only when the person
    confirms (the row is `pending` meanwhile, and still guarded as an opt-out). Raises
    AddressSuppressed when that confirmation cannot be sent.
    """
    confirmation_sent = False
    with transaction.atomic():
        if status == SubscriptionStatus.UNSUBSCRIBED:
            subscription_unsubscribe(contact=contact, topic=topic, by=by)
        elif double_opt_in:
            _require_mailable(contact)
            confirmation_sent = bool(subscription_request(contact=contact, topics=[topic], by=by))
        else:
            subscription_subscribe(
                contact=contact,
                topic=topic,
                by=by,
                legal_basis=legal_basis,
                implied_by=implied_by,
                frequency=frequency,
            )
        if frequency and status == SubscriptionStatus.SUBSCRIBED and not confirmation_sent:
            subscription_set_frequency(contact=contact, topic=topic, frequency=frequency, by=by)
        subscription = Subscription.objects.select_related("topic").get(
            contact=contact, topic=topic
        )
    return subscription, confirmation_sent
