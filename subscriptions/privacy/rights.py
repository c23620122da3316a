"""Privacy rights: a person's copy of their data, and its erasure.

Erasure keeps the facts and drops the person: the contact row stays (the ledger points at it)
with every personal field blanked, the ledger's personal fields are blanked, deliveries keep
their outcome (so campaign statistics stay right) but lose what could identify anyone, and the
address survives only as a keyed hash on the suppression list (reason `erased`), so no import,
API call or form can mail it again until the person confirms a new double opt-in.
"""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from ..consent.ledger import Actor, record
from ..consent.subscriptions import subscription_unsubscribe
from ..consent.suppression import suppression_add
from ..consent.tokens import privacy_url
from ..mail.transactional import AddressSuppressed, send_transactional
from ..models import (
    CampaignTestSend,
    ConfirmationRequest,
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
from ..models.choices import (
    Action,
    PrivacyAction,
    SubscriptionStatus,
    SuppressionReason,
    SuppressionScope,
    TransactionalStatus,
)
from ..models.ledger import PERSONAL_FIELDS
from ..redaction import redact


class PrivacyError(Exception):
    code = "privacy_error"


class ContactAlreadyErased(PrivacyError):
    """The contact's personal data is already gone; there is nothing to export or erase."""

    code = "contact_erased"


class PrivacyLinkUsed(PrivacyError):
    """The verification link was already used (or never issued)."""

    code = "link_used"


def _iso(value: datetime.datetime | datetime.date | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- export ----------------------------------------------------------------------------------


def contact_export(*, contact: Contact, by: Actor | None = None) -> dict:
    """Everything prefcenter holds about `contact`, as a JSON-serialisable dict.

    The contact, its subscriptions, the whole consent ledger (oldest first), its deliveries,
    the system messages sent to its address and the suppressions on its address. Ledger rows,
    deliveries, link opens and confirmation requests of other spellings merged into the contact
    are the same person's and are included (erasure scrubs them too). With `by`, the export
    itself is first recorded in the ledger (and so is part of it). Raises ContactAlreadyErased
    for an erased contact.
    """
    if contact.is_erased:
        raise ContactAlreadyErased("This contact has been erased; no personal data is left.")
    if by is not None:
        record(contact=contact, action=Action.EXPORTED, by=by)
    # The person's rows: this contact's, and those of spellings merged into it.
    theirs = Q(contact=contact) | Q(contact__merged_into=contact)
    subscriptions = Subscription.objects.filter(contact=contact).select_related("topic")
    events = (
        ConsentEvent.objects.filter(theirs).select_related("topic").order_by("created_at", "id")
    )
    deliveries = Delivery.objects.filter(theirs).select_related("campaign").order_by("pk")
    spellings = [
        contact.email,
        *Contact.objects.filter(merged_into=contact).values_list("email", flat=True),
    ]
    to_them = Q(pk__in=[])
    for address in filter(None, spellings):  # never "": scrubbed messages have no address
        to_them |= Q(to_email__iexact=address)
    messages = TransactionalMessage.objects.filter(to_them).order_by("created_at", "pk")
    suppressions = Suppression.objects.for_contact(contact).order_by("created_at")
    return {
        "format": "prefcenter.export/1",
        "exported_at": _iso(timezone.now()),
        "contact": {
            "id": contact.pk,
            "email": contact.email,
            "external_id": contact.external_id,
            "locale": contact.locale,
            "time_zone": contact.time_zone,
            "country": contact.country,
            "attributes": contact.attributes,
            "birth_date": _iso(contact.birth_date),
            "age_confirmed": contact.age_confirmed,
            "created_at": _iso(contact.created_at),
            "updated_at": _iso(contact.updated_at),
        },
        "subscriptions": [
            {
                "topic": s.topic.slug,
                "topic_name": s.topic.name,
                "status": s.status,
                "legal_basis": s.legal_basis,
                "implied_by": s.implied_by,
                "implied_at": _iso(s.implied_at),
                "frequency": s.frequency,
                "paused_until": _iso(s.paused_until),
                "consented_at": _iso(s.consented_at),
                "created_at": _iso(s.created_at),
            }
            for s in subscriptions
        ],
        "consent_events": [
            {
                "id": e.pk,
                "topic": e.topic.slug if e.topic_id else None,
                "action": e.action,
                "old_status": e.old_status,
                "new_status": e.new_status,
                "source": e.source,
                "policy_version": e.policy_version,
                "wording": e.wording,
                "ip_address": e.ip_address,
                "user_agent": e.user_agent,
                "evidence": e.evidence,
                "actor": e.actor,
                "created_at": _iso(e.created_at),
            }
            for e in events
        ],
        "deliveries": [
            {
                "campaign": d.campaign.name,
                "subject": d.campaign.subject,
                "status": d.status,
                "reason": d.reason,
                "sent_at": _iso(d.sent_at),
            }
            for d in deliveries
        ],
        "transactional_messages": [
            {
                "kind": m.kind,
                "subject": m.subject,
                "status": m.status,
                "created_at": _iso(m.created_at),
                "sent_at": _iso(m.sent_at),
            }
            for m in messages
        ],
        "link_hits": [
            {
                "kind": h.kind,
                "day": h.day.isoformat(),
                "count": h.count,
                "user_agent": h.user_agent,
                "created_at": _iso(h.created_at),
                "last_at": _iso(h.last_at),
            }
            for h in LinkHit.objects.filter(theirs).order_by("created_at")
        ],
        "suppressions": [
            {"reason": s.reason, "scope": s.scope, "created_at": _iso(s.created_at)}
            for s in suppressions
        ],
        "confirmation_requests": [
            {
                "topics": sorted(t.slug for t in r.topics.all()),
                "age_confirmed": r.age_confirmed,
                "created_at": _iso(r.created_at),
                "used_at": _iso(r.used_at),
            }
            for r in ConfirmationRequest.objects.filter(theirs)
            .prefetch_related("topics")
            .order_by("created_at")
        ],
    }


# --- erasure ---------------------------------------------------------------------------------


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
                text = redact(getattr(row, field), identifiers=identifiers)
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
                else redact(entry.object_repr, identifiers=identifiers)
            )[:200],
            change_message=redact(entry.change_message, identifiers=identifiers),
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
            hashed=contact.address_hash,
            reason=SuppressionReason.ERASED,
            scope=SuppressionScope.MARKETING,
            source=by.source,
            created_by=by.staff_user,
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
        for subscription in Subscription.objects.filter(contact=contact).select_related("topic"):
            record(
                contact=contact,
                topic=subscription.topic,
                action=Action.LAPSED,
                by=by,
                old_status=subscription.status,
                new_status="",
            )
            subscription.delete()
        record(contact=contact, action=Action.ERASED, by=by, new_status="unconfirmed")
        _scrub(contact)


# --- verified requests from the person -------------------------------------------------------


def privacy_request_start(*, contact: Contact, action: str) -> PrivacyRequest | None:
    """Email the person a one-hour, single-use link to export or erase their data.

    Returns None (and sends nothing) when the contact asked too often in the last hour or the
    address cannot receive mail; callers answer the same either way.
    """
    if action not in PrivacyAction.values:
        raise ValueError(f"unknown privacy action {action!r}")
    if contact.is_erased:
        raise ContactAlreadyErased("This contact has been erased.")
    hour_ago = timezone.now() - datetime.timedelta(hours=1)
    recent = PrivacyRequest.objects.filter(contact=contact, created_at__gte=hour_ago).count()
    if recent >= settings.PRIVACY_REQUESTS_PER_HOUR:
        return None
    with transaction.atomic():
        request = PrivacyRequest.objects.create(contact=contact, action=action)
        try:
            send_transactional(
                to=contact.email,
                template="privacy_verify",
                context={
                    "contact": contact,
                    "action": action,
                    "is_erase": action == PrivacyAction.ERASE,
                    "link": privacy_url(contact, action, request.nonce),
                    "minutes": settings.PRIVACY_LINK_MAX_AGE_MINUTES,
                },
                locale=contact.locale,
                kind=f"privacy_{action}",
            )
        except AddressSuppressed:
            transaction.set_rollback(True)
            return None
    return request


def privacy_request_check(*, contact: Contact, action: str, nonce: str) -> PrivacyRequest:
    """The unused request behind a verified link; PrivacyLinkUsed if used or unknown."""
    request = PrivacyRequest.objects.filter(
        contact=contact, action=action, nonce=nonce, used_at__isnull=True
    ).first()
    if request is None:
        raise PrivacyLinkUsed("This link has already been used.")
    return request


def privacy_request_use(*, request: PrivacyRequest) -> None:
    """Mark the request used; exactly one caller wins, the others get PrivacyLinkUsed."""
    won = PrivacyRequest.objects.filter(pk=request.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if not won:
        raise PrivacyLinkUsed("This link has already been used.")
