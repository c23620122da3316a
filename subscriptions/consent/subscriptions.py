"""Consent services: the only code that changes a Subscription.

Every function here runs in one transaction with the ConsentEvent it writes, locks the rows it
changes, writes one ledger row per actual change (none for a no-op), and is called alike by the
pages, the API, the admin, webhooks, imports and commands.

Rule 5 lives in `subscription_subscribe`: an unsubscribe or a suppression is turned back into a
subscription only by the person's own new consent given where their mailbox is proven (a
confirmed double opt-in, or their own preference page).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from .. import ratelimit
from ..addresses import address_hash, address_key, normalize_email
from ..locales import normalize_locale
from ..models import ConfirmationRequest, ConsentEvent, Contact, Subscription, Suppression, Topic
from ..models.choices import (
    Action,
    ImpliedBy,
    LegalBasis,
    Source,
    SubscriptionStatus,
    SuppressionReason,
    SuppressionScope,
)
from .canonical import contact_alias_hashes_sync
from .ledger import Actor, record
from .notifications import send_confirmation_request
from .suppression import blocks_all_mail, suppression_add

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
# Rate-limit scope of confirmation emails per canonical address (CONFIRMATION_RATE_LIMIT_EMAIL).
CONFIRMATION_MAIL_SCOPE = "confirm-email"


class ConsentError(Exception):
    code = "consent_error"


class ResubscribeRequiresConfirmation(ConsentError):
    """The contact opted out or is suppressed; only their own confirmed consent can undo it."""

    code = "resubscribe_requires_confirmation"


class ErasedRequiresDoubleOptIn(ConsentError):
    """The person had this address erased; only their own confirmed consent brings it back."""

    code = "erased_requires_double_opt_in"


# --- contacts --------------------------------------------------------------------------------


def contact_get_or_create(
    *,
    email: str,
    external_id: str | None = None,
    locale: str | None = None,
    attributes: dict | None = None,
    refuse_erased: bool = False,
) -> tuple[Contact, bool]:
    """The active contact with this mailbox (its canonical address), created if new.

    Every road that makes a contact comes here, so one mailbox is one contact. Given fields
    update an existing contact; attributes are merged; a locale is stored as the supported
    language it names. With `refuse_erased`, creating a contact for an address whose owner had
    it erased raises ErasedRequiresDoubleOptIn (callers without the person's proof of the
    mailbox). Raises InvalidAddress, InvalidLocale.
    """
    normalized = normalize_email(email)
    key = address_key(normalized)
    locale = normalize_locale(locale) if locale else None
    for _attempt in range(2):
        contact = Contact.objects.active().filter(email_key=key).first()
        if contact is not None:
            changed = []
            if external_id is not None and contact.external_id != external_id:
                contact.external_id = external_id
                changed.append("external_id")
            if locale and contact.locale != locale:
                contact.locale = locale
                changed.append("locale")
            if attributes:
                contact.attributes = {**contact.attributes, **attributes}
                changed.append("attributes")
            if changed:
                contact.save(update_fields=[*changed, "updated_at"])
            return contact, False
        if (
            refuse_erased
            and Suppression.objects.for_address(normalized)
            .filter(reason=SuppressionReason.ERASED)
            .exists()
        ):
            raise ErasedRequiresDoubleOptIn(
                "This address was erased at its owner's request; only a double opt-in "
                "(double_opt_in with topics) can bring it back."
            )
        try:
            with transaction.atomic():
                contact = Contact.objects.create(
                    email=normalized,
                    email_key=key,
                    address_hash=address_hash(normalized),
                    external_id=external_id,
                    locale=locale or "en",
                    attributes=attributes or {},
                )
                contact_alias_hashes_sync(contact=contact)
            return contact, True
        except IntegrityError:
            continue  # created concurrently: read it back
    raise IntegrityError(f"could not create or find contact for {key!r}")


# --- helpers ---------------------------------------------------------------------------------


def _locked_subscription(contact: Contact, topic: Topic) -> Subscription | None:
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
    subscription = _locked_subscription(contact, topic)
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
    if blocks_all_mail(contact=contact):
        return []
    awaiting: list[Topic] = []
    for topic in topics:
        subscription = _locked_subscription(contact, topic)
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


class ConfirmationUnusable(ConsentError):
    """The confirmation link was genuine but cannot confirm any more; nothing was changed."""


class ConfirmationUsed(ConfirmationUnusable):
    code = "confirmation_used"


class ConfirmationOvertaken(ConfirmationUnusable):
    """An opt-out or complaint came after the confirmation was sent: it no longer confirms."""

    code = "confirmation_overtaken"


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


# --- leaving ---------------------------------------------------------------------------------


@transaction.atomic
def subscription_unsubscribe(*, contact: Contact, topic: Topic, by: Actor) -> bool:
    """Unsubscribe `contact` from `topic`. Idempotent; returns whether anything changed.

    With no subscription row at all, an unsubscribed one is written, so that the opt-out is on
    record before any later import or API call could subscribe the person.
    """
    subscription = _locked_subscription(contact, topic)
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
    it was already in force). Returns how many subscriptions changed.
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
    already = Suppression.objects.for_contact(contact).filter(
        reason=SuppressionReason.UNSUBSCRIBED_ALL
    )
    if not already.exists():
        suppression_add(
            hashed=contact.address_hash,
            reason=SuppressionReason.UNSUBSCRIBED_ALL,
            scope=SuppressionScope.MARKETING,
            source=by.source,
            note=note,
            created_by=by.staff_user,
        )
        record(contact=contact, action=Action.UNSUBSCRIBED_ALL, by=by, new_status="suppressed")
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


class UnknownFrequency(ConsentError):
    code = "unknown_frequency"


@transaction.atomic
def subscription_set_frequency(
    *, contact: Contact, topic: Topic, frequency: str, by: Actor
) -> bool:
    """Change how often the contact hears about `topic`. Returns whether anything changed."""
    if frequency not in topic.offered_frequencies:
        raise UnknownFrequency(f"{topic.slug} does not offer {frequency!r}.")
    subscription = _locked_subscription(contact, topic)
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
