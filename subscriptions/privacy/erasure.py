"""Erasure (GDPR art. 17): the person goes, the facts stay.

Erasure keeps the facts and drops the person: the contact row stays (the ledger points at it)
with every personal field blanked, the ledger's personal fields are blanked, deliveries keep
their outcome (so campaign statistics stay right) but lose what could identify anyone, and the
address survives only as a keyed hash on the suppression list (reason `erased`), so no import,
API call or form can mail it again until the person confirms a new double opt-in.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from ..consent.implied import subscriptions_withdraw_unconfirmed
from ..consent.ledger import Actor, record
from ..consent.subscriptions import subscription_unsubscribe
from ..consent.suppression import suppression_add
from ..models import (
    CampaignTestSend,
    ConsentEvent,
    Contact,
    ContactAddressHash,
    Delivery,
    LinkHit,
    PrivacyRequest,
    SoftBounce,
    Subscription,
    Suppression,
    SuppressionRemoval,
    TransactionalMessage,
)
from ..models.choices import Action, SubscriptionStatus, SuppressionReason, TransactionalStatus
from ..models.ledger import PERSONAL_FIELDS
from ..redaction import redact_identifiers
from .rights import ContactAlreadyErased


def _identifiers(contact: Contact) -> list[str]:
    """What identifies the person in a free text: address, external id, attribute values."""
    values = [contact.email, contact.external_id or ""]
    values += [v for v in contact.attributes.values() if isinstance(v, str)]
    return [v for v in values if v]


def _redact_texts(contact: Contact) -> None:
    """Redact the person from texts kept after erasure: ESP/MTA replies and staff notes on the
    address's suppressions and soft bounces, and the admin log (whose entries name a contact by
    its address, and whose change messages may quote it)."""
    identifiers = _identifiers(contact)
    # Every hash the address's rows may carry: rows written under an older canonical form (or
    # for a spelling merged into this contact) are the person's too, as export shows them.
    hashes = [contact.address_hash] if contact.address_hash else []
    hashes += contact.alias_hashes.values_list("address_hash", flat=True)
    if hashes:
        for model, field in (
            (Suppression, "note"),
            (SoftBounce, "description"),
            (SuppressionRemoval, "why"),
        ):
            for row in model.objects.filter(address_hash__in=hashes):
                text = redact_identifiers(getattr(row, field), identifiers=identifiers)
                model.objects.filter(pk=row.pk).update(**{field: text})
    # The contact's own entries (through any of its proxies: DataSubject, ContactImport...), and
    # any other entry whose text names the person (a subscription's repr is "<address> · topic").
    own_types = [
        ct
        for ct in ContentType.objects.filter(app_label=Contact._meta.app_label)
        if ct.model_class() is not None and issubclass(ct.model_class(), Contact)
    ]
    own_type_ids = {ct.pk for ct in own_types}
    mentions = Q(content_type__in=own_types, object_id=str(contact.pk))
    # Only the unique identifiers select other entries: an attribute value ("yes", "Product")
    # would match strangers' entries too.
    for identifier in (contact.email, contact.external_id):
        if identifier and len(identifier) >= 3:
            mentions |= Q(object_repr__icontains=identifier)
            mentions |= Q(change_message__icontains=identifier)
    for entry in LogEntry.objects.filter(mentions):
        own = entry.content_type_id in own_type_ids and entry.object_id == str(contact.pk)
        LogEntry.objects.filter(pk=entry.pk).update(
            object_repr=(
                f"erased contact #{contact.pk}"
                if own
                else redact_identifiers(entry.object_repr, identifiers=identifiers)
            )[:200],
            change_message=redact_identifiers(entry.change_message, identifiers=identifiers),
        )
    if contact.email:
        # A staff test send may have gone to the person's own mailbox: the log keeps the count.
        lowered = contact.email.lower()
        logged = CampaignTestSend.objects.annotate(
            sent=Cast("recipients", TextField()), kept=Cast("refused", TextField())
        ).filter(Q(sent__icontains=lowered) | Q(kept__icontains=lowered))
        for row in logged:
            CampaignTestSend.objects.filter(pk=row.pk).update(
                recipients=[_erased_or(a, lowered) for a in row.recipients],
                refused=[_erased_or(a, lowered) for a in row.refused],
            )


def _erased_or(address: str, lowered: str) -> str:
    return "[erased]" if address.lower() == lowered else address


def _scrub(contact: Contact) -> None:
    """Blank every personal field of the contact, its ledger rows, deliveries and messages, and
    of the spellings merged into it.

    Shared by erasure and by the retention of never-confirmed contacts. Call in a transaction.
    """
    email = contact.email
    _redact_texts(contact)
    ConsentEvent.objects.filter(contact=contact).update(
        **{name: (None if name == "ip_address" else "") for name in PERSONAL_FIELDS}
    )
    # Outcomes stay (campaign statistics); what could identify the person or their ESP logs goes.
    Delivery.objects.filter(contact=contact).update(error="", esp_message_id="")
    LinkHit.objects.filter(contact=contact).update(user_agent="")
    if email:
        messages = TransactionalMessage.objects.filter(to_email__iexact=email)
        pks = list(messages.values_list("pk", flat=True))
        queued = list(
            messages.filter(status=TransactionalStatus.QUEUED).values_list("pk", flat=True)
        )
        # The error may be an MTA reply quoting the address: it goes too.
        TransactionalMessage.objects.filter(pk__in=pks).update(
            to_email="", subject="", text_body="", html_body="", esp_message_id="", error=""
        )
        TransactionalMessage.objects.filter(pk__in=queued).update(
            status=TransactionalStatus.FAILED, error="recipient erased"
        )
    PrivacyRequest.objects.filter(contact=contact, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    ContactAddressHash.objects.filter(contact=contact).delete()
    contact.email = ""
    contact.email_key = None
    contact.address_hash = ""
    contact.external_id = None
    contact.user = None
    contact.attributes = {}
    contact.birth_date = None
    contact.age_confirmed = False
    contact.country = ""
    contact.locale = settings.LANGUAGE_CODE
    contact.time_zone = "UTC"
    contact.token_key = uuid.uuid4()  # every link ever mailed to them stops working
    contact.erased_at = timezone.now()
    contact.save()
    # Other spellings of this mailbox, merged into it, hold the same person's data.
    for merged in Contact.objects.filter(merged_into=contact, erased_at__isnull=True):
        _scrub(merged)


@transaction.atomic
def contact_erase(*, contact: Contact, by: Actor) -> None:
    """Erase the person behind `contact` (GDPR art. 17).

    Unsubscribes every subscription (one ledger row each), suppresses the address hash with
    reason `erased`, writes an ERASED ledger row, then blanks the personal data. Raises
    ContactAlreadyErased when there is nothing left to erase.
    """
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if contact.is_erased:
        raise ContactAlreadyErased("This contact has already been erased.")
    subscriptions = Subscription.objects.filter(contact=contact).exclude(
        status=SubscriptionStatus.UNSUBSCRIBED
    )
    for subscription in subscriptions.select_related("topic"):
        subscription_unsubscribe(contact=contact, topic=subscription.topic, by=by)
    if contact.address_hash:
        suppression_add(
            hashed=contact.address_hash, reason=SuppressionReason.ERASED, by=by, contact=contact
        )
    record(contact=contact, action=Action.ERASED, by=by, new_status="erased")
    _scrub(contact)


def contact_erase_unconfirmed(*, contact: Contact, by: Actor) -> None:
    """Erase a contact who never confirmed anything: no suppression, they may sign up again.

    Their pending subscriptions are removed (one ledger row each); the ledger rows stay, scrubbed.
    """
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        if contact.is_erased:
            raise ContactAlreadyErased("This contact has already been erased.")
        subscriptions_withdraw_unconfirmed(contact=contact, by=by)
        record(contact=contact, action=Action.ERASED, by=by, new_status="unconfirmed")
        _scrub(contact)
