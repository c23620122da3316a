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
from django.db import transaction
from django.utils import timezone

from .consent import subscription_unsubscribe
from .ledger import Actor, record
from .models import (
    ConsentEvent,
    Contact,
    ContactAddressHash,
    Delivery,
    LinkHit,
    PrivacyRequest,
    Subscription,
    Suppression,
    TransactionalMessage,
)
from .models.choices import Action, SubscriptionStatus, SuppressionReason, SuppressionScope
from .models.ledger import PERSONAL_FIELDS
from .models.privacy import PrivacyAction
from .models.transactional import TransactionalStatus
from .suppression import suppression_add


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
    the system messages sent to its address and the suppressions on its address. With `by`,
    the export itself is first recorded in the ledger (and so is part of it). Raises
    ContactAlreadyErased for an erased contact.
    """
    if contact.is_erased:
        raise ContactAlreadyErased("This contact has been erased; no personal data is left.")
    if by is not None:
        record(contact=contact, action=Action.EXPORTED, by=by)
    subscriptions = Subscription.objects.filter(contact=contact).select_related("topic")
    events = (
        ConsentEvent.objects.filter(contact=contact)
        .select_related("topic")
        .order_by("created_at", "id")
    )
    deliveries = Delivery.objects.filter(contact=contact).select_related("campaign").order_by("pk")
    messages = TransactionalMessage.objects.filter(to_email__iexact=contact.email).order_by(
        "created_at", "pk"
    )
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
            {"kind": h.kind, "user_agent": h.user_agent, "created_at": _iso(h.created_at)}
            for h in LinkHit.objects.filter(contact=contact).order_by("created_at")
        ],
        "suppressions": [
            {"reason": s.reason, "scope": s.scope, "created_at": _iso(s.created_at)}
            for s in suppressions
        ],
    }


# --- erasure ---------------------------------------------------------------------------------


def _scrub(contact: Contact) -> None:
    """Blank every personal field of the contact, its ledger rows, deliveries and messages.

    Shared by erasure and by the retention of never-confirmed contacts. Call in a transaction.
    """
    email = contact.email
    ConsentEvent.objects.filter(contact=contact).update(
        **{name: (None if name == "ip_address" else "") for name in PERSONAL_FIELDS}
    )
    # Outcomes stay (campaign statistics); what could identify the person or their ESP logs goes.
    Delivery.objects.filter(contact=contact).update(error="", esp_message_id="")
    LinkHit.objects.filter(contact=contact).update(user_agent="")
    if email:
        messages = TransactionalMessage.objects.filter(to_email__iexact=email)
        messages.filter(status=TransactionalStatus.QUEUED).update(
            status=TransactionalStatus.FAILED, error="recipient erased"
        )
        messages.update(to_email="", subject="", text_body="", html_body="", esp_message_id="")
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
    # Other spellings of this mailbox, merged into it, hold the same person's data.
    for merged in Contact.objects.filter(merged_into=contact, erased_at__isnull=True):
        _scrub(merged)


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
    from .tokens import privacy_url
    from .transactional import AddressSuppressed, send_transactional

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
