"""The right of access (GDPR art. 15): a person's copy of every row that is about them."""

from __future__ import annotations

import datetime

from django.db.models import Q
from django.utils import timezone

from ..consent.ledger import Actor, record
from ..models import (
    ConfirmationRequest,
    ConsentEvent,
    Contact,
    Delivery,
    LinkHit,
    Subscription,
    Suppression,
    TransactionalMessage,
)
from ..models.choices import Action
from .rights import ContactAlreadyErased


def _iso(value: datetime.datetime | datetime.date | None) -> str | None:
    return value.isoformat() if value is not None else None


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
