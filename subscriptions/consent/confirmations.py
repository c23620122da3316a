"""Double opt-in: ask the person to confirm, and accept their confirmation once.

A confirmation is the one proof that lifts the person's own opt-outs (rule 5): it is a
single-use, short-lived link mailed to the address, and an opt-out that came after it was sent
overtakes it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from .. import ratelimit
from ..addresses import address_key
from ..models import ConfirmationRequest, ConsentEvent, Contact, Subscription, Suppression, Topic
from ..models.choices import Action, Source, SubscriptionStatus
from .errors import ConfirmationOvertaken, ConfirmationUsed
from .ledger import Actor, record
from .notifications import send_confirmation_request
from .subscriptions import PERSON_LIFTABLE_REASONS, locked_subscription, subscription_subscribe

# Rate-limit scope of confirmation emails per canonical address (CONFIRMATION_RATE_LIMIT_EMAIL).
CONFIRMATION_MAIL_SCOPE = "confirm-email"


@transaction.atomic
def subscription_request(
    *, contact: Contact, topics: Iterable[Topic], by: Actor, age_confirmed: bool = False
) -> list[Topic]:
    """Start a double opt-in: topics not yet subscribed become pending, one confirmation is sent.

    The confirmation is a single-use ConfirmationRequest row whose nonce the emailed link
    carries; `age_confirmed` (the sign-up form's box) waits on that row until the person
    confirms. At most CONFIRMATION_RATE_LIMIT_EMAIL confirmation emails go to one canonical
    address: over it, the topics still become pending but no row is made and no mail sent.

    Returns the topics awaiting confirmation (empty when there is nothing to confirm or the
    address cannot receive mail at all). Callers show the same answer either way, so the
    result never reveals whether an address is known or was rate-limited.
    """
    if Suppression.objects.for_contact(contact).blocking_all_mail().exists():
        return []
    awaiting: list[Topic] = []
    for topic in topics:
        subscription = locked_subscription(contact, topic)
        if subscription is not None and subscription.status == SubscriptionStatus.SUBSCRIBED:
            continue
        awaiting.append(topic)
        if subscription is not None and subscription.status == SubscriptionStatus.PENDING:
            continue  # asked again: send the confirmation again, record nothing new
        old_status = ""
        if subscription is None:
            subscription = Subscription(
                contact=contact, topic=topic, frequency=topic.default_frequency
            )
        else:
            # An unsubscribed row becomes pending; _opted_out still treats it as an opt-out
            # until the person confirms.
            old_status = subscription.status
        subscription.status = SubscriptionStatus.PENDING
        subscription.save()
        record(
            contact=contact,
            topic=topic,
            action=Action.SUBSCRIBE_REQUESTED,
            by=by,
            old_status=old_status,
            new_status=subscription.status,
        )
    if awaiting and not ratelimit.hit(
        scope=CONFIRMATION_MAIL_SCOPE,
        key=address_key(contact.email),
        rate=settings.CONFIRMATION_RATE_LIMIT_EMAIL,
    ):
        # Stamped by the database clock, as the ledger's rows are: whether a later opt-out
        # overtook it (confirmation_overtaken) compares the two, and a worker whose clock ran
        # a few seconds ahead made an unsubscribe-all right after the mail look older than it,
        # so the link still re-subscribed the person and lifted their suppression.
        confirmation = ConfirmationRequest.objects.create(
            contact=contact, age_confirmed=age_confirmed, created_at=Now()
        )
        confirmation.refresh_from_db(fields=["created_at"])
        confirmation.topics.set(awaiting)
        send_confirmation_request(confirmation=confirmation, topics=awaiting)
    return awaiting


def subscription_confirm(*, contact: Contact, topics: Iterable[Topic], by: Actor) -> list[Topic]:
    """The person confirmed a double opt-in: subscribe them to each topic (rule 5's proof).

    Callers holding a confirmation link go through `confirmation_accept`, which makes the link
    single-use; this is the step it ends with (and what seeding and tests call directly).
    """
    confirmed_by = Actor(**{**by.__dict__, "source": Source.CONFIRMATION})
    with transaction.atomic():
        for topic in topics:
            subscription_subscribe(contact=contact, topic=topic, by=confirmed_by)
    return list(topics)


def confirmation_overtaken(confirmation: ConfirmationRequest) -> bool:
    """Whether the person opted out of one of its topics, of everything, or complained (or
    was suppressed) after this confirmation was sent."""
    since = confirmation.created_at
    topic_ids = list(confirmation.topics.values_list("pk", flat=True))
    later_opt_out = ConsentEvent.objects.filter(
        contact_id=confirmation.contact_id, created_at__gte=since
    ).filter(
        Q(action=Action.UNSUBSCRIBED, topic_id__in=topic_ids)
        | Q(action__in=[Action.UNSUBSCRIBED_ALL, Action.SUPPRESSED])
    )
    later_suppression = Suppression.objects.for_contact(confirmation.contact).filter(
        created_at__gte=since, reason__in=PERSON_LIFTABLE_REASONS
    )
    return later_opt_out.exists() or later_suppression.exists()


def confirmation_check(confirmation: ConfirmationRequest) -> None:
    """Raise ConfirmationUsed or ConfirmationOvertaken when the link can no longer confirm."""
    if confirmation.used_at is not None:
        raise ConfirmationUsed("This confirmation link was already used.")
    if confirmation_overtaken(confirmation):
        raise ConfirmationOvertaken("An opt-out came after this confirmation was sent.")


def confirmation_accept(*, confirmation: ConfirmationRequest, by: Actor) -> list[Topic]:
    """The person clicked their confirmation link's button: confirm its topics, once.

    Locks the request row, so two concurrent POSTs confirm once (the second sees it used).
    Raises ConfirmationUsed for a replay and ConfirmationOvertaken when an opt-out of one of
    its topics, an unsubscribe-all or a complaint came after it was sent; either way nothing
    changes. An age confirmation given with the request is stored on the contact now, with
    the confirmed consent. Returns the topics confirmed.
    """
    with transaction.atomic():
        locked = (
            ConfirmationRequest.objects.select_for_update()
            .select_related("contact")
            .get(pk=confirmation.pk)
        )
        confirmation_check(locked)
        locked.used_at = timezone.now()
        locked.save(update_fields=["used_at"])
        contact = locked.contact
        if locked.age_confirmed and not contact.age_confirmed:
            contact.age_confirmed = True
            contact.save(update_fields=["age_confirmed", "updated_at"])
        topics = list(locked.topics.all())
        return subscription_confirm(contact=contact, topics=topics, by=by)
