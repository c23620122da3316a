"""What ESPs report after sending: bounces, complaints, unsubscribes and engagement.

`feedback_record` is the one service every tracking webhook calls (through
subscriptions.feedback.webhooks). It guarantees:

- idempotency: an event (ESP + event id + recipient) is applied at most once, in the same
  transaction as its effects, so a retried webhook changes nothing the second time;
- unknown messages and addresses are accepted and ignored, never an error;
- every consent change it causes writes a ConsentEvent with source `esp_webhook`.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from ..addresses import InvalidAddress, address_hash, address_key, normalize_email
from ..campaigns.lifecycle import CampaignStateError, campaign_pause
from ..consent.ledger import Actor
from ..consent.subscriptions import contact_unsubscribe_all
from ..consent.suppression import suppression_add
from ..models import Campaign, Contact, Delivery, ProcessedWebhookEvent, SoftBounce
from ..models.choices import (
    ComplaintRateLevel,
    DeliveryStatus,
    FeedbackKind,
    Source,
    SuppressionReason,
)
from ..redaction import redact_identifiers

log = logging.getLogger(__name__)


# Engagement kinds only touch the delivery: the first time each is seen is kept.
ENGAGEMENT_FIELDS = {
    FeedbackKind.DELIVERED: "delivered_at",
    FeedbackKind.OPENED: "opened_at",
    FeedbackKind.CLICKED: "clicked_at",
}


@dataclass(frozen=True)
class Feedback:
    esp: str
    kind: str
    recipient: str | None = None
    message_id: str | None = None
    event_id: str | None = None
    occurred_at: datetime.datetime | None = None
    description: str = ""
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # An ESP payload may carry NUL characters, which PostgreSQL text can neither store nor
        # compare: drop them here so no query built from this event fails (rule 7).
        for name in ("recipient", "message_id", "event_id", "description"):
            value = getattr(self, name)
            if isinstance(value, str) and "\x00" in value:
                object.__setattr__(self, name, value.replace("\x00", ""))
        # ESP and MTA texts quote the address; what is stored from them must not (erasure
        # would leave a copy), so the description is redacted before anything uses it.
        object.__setattr__(
            self, "description", redact_identifiers(self.description, identifiers=[self.recipient])
        )

    def dedupe_key(self) -> str:
        """The per-ESP idempotency key: a keyed hash of the ESP's event id and the recipient.

        Amazon SES shares one SNS message id among all recipients of a bounce, and Postmark
        sends no id for deliveries and opens, so the key falls back on the event's content.
        The parts name the recipient (and some ESPs' event ids embed the address), so only an
        HMAC with SUPPRESSION_HASH_KEY is stored: it survives the person's erasure, they don't.
        """
        return dedupe_hash("|".join(self._dedupe_parts()))

    def _dedupe_parts(self) -> list[str]:
        parts = [self.event_id or "", (self.recipient or "").lower()]
        if not self.event_id:
            stamp = self.occurred_at.isoformat() if self.occurred_at else ""
            parts += [self.kind, self.message_id or "", stamp]
        return parts


def dedupe_hash(raw_key: str) -> str:
    """HMAC-SHA256 (SUPPRESSION_HASH_KEY) of a webhook event's raw dedupe key, in hex."""
    key = settings.SUPPRESSION_HASH_KEY.encode()
    return hmac.new(key, raw_key.encode(), hashlib.sha256).hexdigest()


def _actor(feedback: Feedback) -> Actor:
    return Actor(
        source=Source.ESP_WEBHOOK,
        actor=f"esp:{feedback.esp}"[:150],
        evidence=f"{feedback.esp} {feedback.kind} event {feedback.event_id or '-'}: "
        f"{feedback.description}"[:1000],
    )


def _find_delivery(feedback: Feedback, key: str | None) -> Delivery | None:
    deliveries = Delivery.objects.select_for_update(of=("self",)).select_related(
        "campaign", "contact"
    )
    if feedback.message_id:
        matching = deliveries.filter(esp_message_id=feedback.message_id)
        if key:
            # A batch send may reuse one message id for several recipients.
            found = matching.filter(contact__email_key=key).first()
            if found is not None:
                return found
        found = matching.first()
        if found is not None:
            return found
    delivery_id = feedback.metadata.get("delivery_id") if feedback.metadata else None
    if delivery_id and str(delivery_id).isdigit():
        return deliveries.filter(pk=int(delivery_id)).first()
    return None


def _mark(delivery: Delivery | None, field_name: str, at: datetime.datetime) -> None:
    if delivery is not None and getattr(delivery, field_name) is None:
        setattr(delivery, field_name, at)
        delivery.save(update_fields=[field_name])


def _note(feedback: Feedback) -> str:
    return f"{feedback.esp}: {feedback.description}"[:500]


@transaction.atomic
def feedback_record(*, feedback: Feedback) -> bool:
    """Apply one ESP event. Returns False when it was a repeat or concerned nobody we know."""
    try:
        with transaction.atomic():
            ProcessedWebhookEvent.objects.create(
                esp=feedback.esp[:40], event_id=feedback.dedupe_key(), event_type=feedback.kind
            )
    except IntegrityError:
        return False  # seen before: its effects are already in place

    try:
        normalized = normalize_email(feedback.recipient or "")
    except InvalidAddress:
        normalized = None
    key = address_key(normalized) if normalized else None
    delivery = _find_delivery(feedback, key)
    contact = delivery.contact if delivery is not None else None
    if contact is None and normalized:
        contact = Contact.objects.by_email(normalized).first()
    # Mail sent through a spelling since merged concerns the contact it was merged into.
    contact = Contact.objects.following_merges(contact)
    hashed = address_hash(normalized) if normalized else None
    if hashed is None and contact is not None and contact.address_hash:
        hashed = contact.address_hash
    campaign = delivery.campaign if delivery is not None else None
    at = feedback.occurred_at or timezone.now()
    by = _actor(feedback)

    if feedback.kind in ENGAGEMENT_FIELDS:
        if delivery is None:
            return False
        _mark(delivery, ENGAGEMENT_FIELDS[feedback.kind], at)
        return True

    if hashed is None:
        return False  # an address we cannot read and a message we never sent: ignore

    # Bounces and complaints are facts about the address, so they are kept even for an
    # address that is not a contact (transactional mail goes to non-contacts too).
    if feedback.kind in (FeedbackKind.HARD_BOUNCE, FeedbackKind.INVALID):
        reason = (
            SuppressionReason.HARD_BOUNCE
            if feedback.kind == FeedbackKind.HARD_BOUNCE
            else SuppressionReason.INVALID
        )
        suppression_add(
            hashed=hashed,
            reason=reason,
            by=by,
            contact=contact,
            note=_note(feedback),
            campaign=campaign,
        )
        _mark(delivery, "bounced_at", at)
    elif feedback.kind == FeedbackKind.SOFT_BOUNCE:
        SoftBounce.objects.create(
            address_hash=hashed,
            esp=feedback.esp[:40],
            description=feedback.description[:300],
            occurred_at=at,
        )
        # The window is measured in the ESP's event times: N failures within so many days of
        # each other, however late the webhooks arrive.
        since = at - datetime.timedelta(days=settings.SOFT_BOUNCE_WINDOW_DAYS)
        recent = SoftBounce.objects.filter(
            address_hash=hashed, occurred_at__gte=since, occurred_at__lte=at
        ).count()
        if recent >= settings.SOFT_BOUNCE_LIMIT:
            suppression_add(
                hashed=hashed,
                reason=SuppressionReason.SOFT_BOUNCE_LIMIT,
                by=by,
                contact=contact,
                note=_note(feedback),
                campaign=campaign,
            )
    elif feedback.kind == FeedbackKind.COMPLAINT:
        if contact is not None:
            contact_unsubscribe_all(contact=contact, by=by, note=f"complaint via {feedback.esp}")
        suppression_add(
            hashed=hashed,
            reason=SuppressionReason.COMPLAINT,
            by=by,
            contact=contact,
            note=_note(feedback),
            campaign=campaign,
        )
        _mark(delivery, "complained_at", at)
        if campaign is not None:
            campaign_check_complaint_rate(campaign=campaign)
    elif feedback.kind == FeedbackKind.UNSUBSCRIBE:
        if contact is not None:
            contact_unsubscribe_all(contact=contact, by=by, note=f"unsubscribed at {feedback.esp}")
        else:
            suppression_add(
                hashed=hashed,
                reason=SuppressionReason.UNSUBSCRIBED_ALL,
                by=by,
                note=f"unsubscribed at {feedback.esp}",
            )
        _mark(delivery, "unsubscribed_at", at)
    else:
        return False
    return True


@dataclass(frozen=True)
class ComplaintRate:
    sent: int
    complained: int

    @property
    def rate(self) -> float:
        return self.complained / self.sent if self.sent else 0.0

    @property
    def level(self) -> str:
        """`warn` at COMPLAINT_RATE_WARN, `pause` above COMPLAINT_RATE_PAUSE, else `ok`."""
        if self.complained and self.rate > settings.COMPLAINT_RATE_PAUSE:
            return ComplaintRateLevel.PAUSE
        if self.complained and self.rate >= settings.COMPLAINT_RATE_WARN:
            return ComplaintRateLevel.WARN
        return ComplaintRateLevel.OK

    @property
    def percent(self) -> str:
        return f"{self.rate * 100:.2f}%"


def complaint_rate(campaign: Campaign) -> ComplaintRate:
    counts = Delivery.objects.filter(campaign=campaign).aggregate(
        sent=Count("pk", filter=Q(status=DeliveryStatus.SENT)),
        complained=Count("pk", filter=Q(complained_at__isnull=False)),
    )
    return ComplaintRate(sent=counts["sent"], complained=counts["complained"])


def complaint_rates_by_day(*, days: int = 30) -> list[tuple[datetime.date, ComplaintRate]]:
    """Complaints per messages sent for each of the last `days` days with any, newest first."""
    since = timezone.now() - datetime.timedelta(days=days)
    sent = dict(
        Delivery.objects.filter(status=DeliveryStatus.SENT, sent_at__gte=since)
        .annotate(day=TruncDate("sent_at"))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    complained = dict(
        Delivery.objects.filter(complained_at__gte=since)
        .annotate(day=TruncDate("complained_at"))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    return [
        (day, ComplaintRate(sent=sent.get(day, 0), complained=complained.get(day, 0)))
        for day in sorted(set(sent) | set(complained), reverse=True)
    ]


def campaign_check_complaint_rate(*, campaign: Campaign) -> bool:
    """Pause a sending campaign whose complaint rate is above COMPLAINT_RATE_PAUSE.

    Pauses through subscriptions.campaigns.lifecycle (only from `sending`), which the sending
    workers see at their next re-check; a person resumes it there. Returns whether the campaign
    was paused now.
    """
    rate = complaint_rate(campaign)
    if rate.level == ComplaintRateLevel.WARN:
        log.warning("campaign %s complaint rate %s", campaign.pk, rate.percent)
    if rate.level != ComplaintRateLevel.PAUSE:
        return False
    try:
        campaign_pause(campaign=campaign)
    except CampaignStateError:  # no longer sending: paused, cancelled or finished meanwhile
        return False
    log.warning("campaign %s paused: complaint rate %s", campaign.pk, rate.percent)
    return True
