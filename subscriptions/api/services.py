"""The few API operations that are more than one call to an existing service.

Campaign life cycle, export and erasure belong to `subscriptions.campaigns.lifecycle` and
`subscriptions.privacy.rights`; the API only adapts their names here (errors: api/errors.py).
"""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction

from ..addresses import address_hash
from ..campaigns import lifecycle, stats
from ..consent.ledger import Actor
from ..consent.subscriptions import (
    contact_get_or_create,
    subscription_request,
    subscription_set_frequency,
    subscription_subscribe,
)
from ..consent.subscriptions import subscription_unsubscribe as _unsubscribe
from ..consent.suppression import blocks_all_mail, suppression_add_recorded
from ..models import Campaign, Contact, Subscription, Suppression, Topic
from ..privacy import rights as privacy
from .errors import ApiError


def topic_create(
    *, slug: str, name: str, description: str = "", channel: str, frequencies: list[str]
) -> Topic:
    """A new topic; 409 when the slug is taken."""
    try:
        with transaction.atomic():
            return Topic.objects.create(
                slug=slug,
                name=name,
                description=description,
                channel=channel,
                frequencies=list(dict.fromkeys(frequencies)),
            )
    except IntegrityError:
        raise ApiError(409, "already_exists", f"A topic {slug!r} already exists.") from None


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

    An integration cannot prove the mailbox, so it may not bring back an address its owner had
    erased (ErasedRequiresDoubleOptIn, 409) unless it asks for a `double_opt_in` on `topics`:
    then the contact is created and the person is emailed a confirmation (their subscriptions
    stay `pending` and guarded as opt-outs until they confirm). Raises InvalidAddress,
    InvalidLocale; 422 `suppressed` when a confirmation cannot be sent.
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
    """A double opt-in needs a mailbox that can receive its confirmation: 422 `suppressed`."""
    if blocks_all_mail(contact=contact):
        raise ApiError(
            422, "suppressed", "This address cannot receive mail, not even a confirmation."
        )


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
    confirms (the row is `pending` meanwhile, and still guarded as an opt-out).
    """
    confirmation_sent = False
    with transaction.atomic():
        if status == "unsubscribed":
            _unsubscribe(contact=contact, topic=topic, by=by)
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
        if frequency and status == "subscribed" and not confirmation_sent:
            subscription_set_frequency(contact=contact, topic=topic, frequency=frequency, by=by)
        subscription = Subscription.objects.select_related("topic").get(
            contact=contact, topic=topic
        )
    return subscription, confirmation_sent


def address_suppress(
    *, email: str, reason: str, scope: str | None, by: Actor, note: str = ""
) -> Suppression:
    """Suppress an address; a contact with that address gets a ledger row saying so."""
    with transaction.atomic():
        suppression, _created = suppression_add_recorded(
            hashed=address_hash(email),
            reason=reason,
            scope=scope,
            by=by,
            contact=Contact.objects.by_email(email).first(),
            note=note,
        )
    return suppression


# --- campaigns (services of subscriptions.campaigns.lifecycle and .stats) --------------------------


def campaign_create(
    *,
    name: str,
    topic: Topic,
    subject: str,
    html_body: str,
    text_body: str,
    from_email: str = "",
    scheduled_at: datetime.datetime | None = None,
) -> Campaign:
    """A draft campaign, or a scheduled one with `scheduled_at`. Refuses a body that won't compile."""
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name,
            topic=topic,
            subject=subject,
            html_body=html_body,
            text_body=text_body,
            from_email=from_email,
        )
        if scheduled_at is not None:
            lifecycle.campaign_schedule(campaign=campaign, at=scheduled_at)
        else:
            lifecycle.campaign_validate(campaign=campaign)
    return campaign


def campaign_change(*, campaign: Campaign, action: str) -> Campaign:
    """send / pause / resume / cancel, through the sending service's state machine."""
    if action == "send":
        return lifecycle.campaign_start(campaign=campaign)
    if action == "pause":
        return lifecycle.campaign_pause(campaign=campaign)
    if action == "resume":
        return lifecycle.campaign_resume(campaign=campaign)
    if action == "cancel":
        return lifecycle.campaign_cancel(campaign=campaign)
    raise ValueError(action)


def campaign_stats(*, campaign: Campaign) -> dict:
    return stats.campaign_stats(campaign)


# --- privacy (services of subscriptions.privacy.rights) --------------------------------------------


def contact_export(*, contact: Contact) -> dict:
    return privacy.contact_export(contact=contact)


def contact_erase(*, contact: Contact, by: Actor) -> None:
    privacy.contact_erase(contact=contact, by=by)
