"""What each ESP's tracking events mean for an address, one table per ESP.

Anymail normalizes every ESP's events, but folds distinctions prefcenter must keep: several ESPs'
soft bounces arrive as `bounced` (Brevo `soft_bounce`, MailerSend `soft_bounced`, Mandrill
`soft_bounce`, SparkPost's soft bounce classes), and an invalid address as `bounced` with reason
`invalid` (SparkPost class 10, Brevo `invalid_email`). So each ESP has a table keyed by its own
names, read from the raw payload (`event.esp_event`): the key is a tuple (event name, then the
finer classification the ESP gives), looked up longest prefix first, so `("bounce",)` is the
default for every bounce class a table does not list. A key mapped to None is an event that says
nothing about the address (a block of our sender, an auto-reply, a virus notice). Events no
table lists fall back to Anymail's normalized `event_type` and `reject_reason`.

Sources: each ESP's webhook documentation and Anymail 15's `anymail/webhooks/<esp>.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from anymail.signals import EventType, RejectReason

from ..models.choices import FeedbackKind

HARD = FeedbackKind.HARD_BOUNCE
SOFT = FeedbackKind.SOFT_BOUNCE
INVALID = FeedbackKind.INVALID
COMPLAINT = FeedbackKind.COMPLAINT
UNSUBSCRIBE = FeedbackKind.UNSUBSCRIBE

Key = tuple[Any, ...]


def _dig(event: Any, *path: str) -> Any:
    """event[path[0]][path[1]]..., or None where a step is missing or not a mapping."""
    for step in path:
        if not isinstance(event, Mapping):
            return None
        event = event.get(step)
    return event


def _norm(value: Any) -> Any:
    # ESPs vary the case of their reasons ("Bounced Address", "bounced address") and some send
    # bounce classes as numbers, others as strings: keys are compared lower-cased, as text.
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str | int | float):
        return str(value).strip().lower()
    return None  # a list or object where a name belongs: no table entry can match it


@dataclass(frozen=True)
class EspTable:
    """One ESP's reading: `key` pulls (event, classification...) from the raw payload."""

    key: Callable[[Mapping], Key]
    kinds: Mapping[Key, str | None]

    def lookup(self, esp_event: Any) -> tuple[bool, str | None]:
        """(found, kind): the longest listed prefix of the event's key, or (False, None)."""
        if not isinstance(esp_event, Mapping):
            return False, None
        key = tuple(_norm(part) for part in self.key(esp_event))
        for length in range(len(key), 0, -1):
            if key[:length] in self.kinds:
                return True, self.kinds[key[:length]]
        return False, None


# https://postmarkapp.com/developer/webhooks/bounce-webhook, .../spam-complaint-webhook and
# postmarkapp.com/developer/api/bounce-api#bounce-types. (SubscriptionChange is left to
# Anymail, which reads SuppressSending: a reactivation is not an unsubscribe.)
POSTMARK = EspTable(
    key=lambda e: (e.get("RecordType"), e.get("Type")),
    kinds={
        ("bounce", "hardbounce"): HARD,
        ("bounce", "bademailaddress"): INVALID,
        ("bounce", "softbounce"): SOFT,
        ("bounce", "transient"): SOFT,
        ("bounce", "dnserror"): SOFT,
        ("bounce", "spamnotification"): COMPLAINT,
        ("bounce", "spamcomplaint"): COMPLAINT,
        ("bounce", "unsubscribe"): UNSUBSCRIBE,
        # The receiver blocked our server, a virus scan, an auto-reply, a test: not the address.
        ("bounce", "blocked"): None,
        ("bounce", "dmarcpolicy"): None,
        ("bounce", "virusnotification"): None,
        ("bounce", "autoresponder"): None,
        ("bounce", "addresschange"): None,
        ("bounce", "challengeverification"): None,
        ("bounce", "openrelaytest"): None,
        ("bounce", "manuallydeactivated"): None,
        ("bounce", "unknown"): None,
        ("bounce", "smtpapierror"): None,
        ("bounce", "templaterenderingfailed"): None,
        ("spamcomplaint",): COMPLAINT,
    },
)

# SES event publishing (`eventType`) and notifications (`notificationType`):
# docs.aws.amazon.com/ses/latest/dg/notification-contents.html#bounce-types
AMAZON_SES = EspTable(
    key=lambda e: (
        e.get("eventType") or e.get("notificationType"),
        _dig(e, "bounce", "bounceType") or _dig(e, "complaint", "complaintFeedbackType"),
    ),
    kinds={
        ("bounce",): HARD,
        ("bounce", "permanent"): HARD,
        ("bounce", "transient"): SOFT,
        ("bounce", "undetermined"): SOFT,
        ("complaint",): COMPLAINT,
        # A feedback report saying the message was *not* spam.
        ("complaint", "not-spam"): None,
        ("reject",): None,  # SES refused our message (a virus): not about the address
    },
)

# docs.sendgrid.com/for-developers/tracking-events/event: a bounce's `type` tells a bounce from
# a block; a drop's `reason` says why SendGrid would not send.
SENDGRID = EspTable(
    key=lambda e: (e.get("event"), e.get("type"), e.get("reason")),
    kinds={
        ("bounce",): HARD,
        ("bounce", "bounce"): HARD,
        ("bounce", "blocked"): SOFT,
        ("dropped",): None,
        ("dropped", None, "invalid"): INVALID,
        ("dropped", None, "bounced address"): HARD,
        ("dropped", None, "spam reporting address"): COMPLAINT,
        ("dropped", None, "unsubscribed address"): UNSUBSCRIBE,
        ("spamreport",): COMPLAINT,
        ("unsubscribe",): UNSUBSCRIBE,
        ("group_unsubscribe",): UNSUBSCRIBE,
    },
)

# documentation.mailgun.com/docs/mailgun/user-manual/events/: `failed` with `severity`, and
# `reason` when Mailgun did not even try (its own suppression lists).
MAILGUN = EspTable(
    key=lambda e: (
        _dig(e, "event-data", "event"),
        _dig(e, "event-data", "severity"),
        _dig(e, "event-data", "reason"),
    ),
    kinds={
        ("failed",): HARD,
        ("failed", "permanent"): HARD,
        ("failed", "permanent", "suppress-bounce"): HARD,
        ("failed", "permanent", "suppress-complaint"): COMPLAINT,
        # Mailgun's unsubscribe lists can be per tag: not a withdrawal of every consent.
        ("failed", "permanent", "suppress-unsubscribe"): None,
        ("failed", "temporary"): SOFT,
        ("rejected",): None,  # Mailgun refused our request: not about the address
        ("complained",): COMPLAINT,
        ("unsubscribed",): UNSUBSCRIBE,
    },
)

# developers.brevo.com/docs/transactional-webhooks
BREVO = EspTable(
    key=lambda e: (e.get("event"),),
    kinds={
        ("hard_bounce",): HARD,
        ("soft_bounce",): SOFT,
        ("invalid_email",): INVALID,
        ("spam",): COMPLAINT,
        ("complaint",): COMPLAINT,
        # Anymail reads `unsubscribe`; Brevo's documentation names the event "Unsubscribed".
        ("unsubscribe",): UNSUBSCRIBE,
        ("unsubscribed",): UNSUBSCRIBE,
        ("blocked",): None,  # Brevo's own block (an earlier bounce or complaint there)
        ("error",): None,
    },
)

# dev.mailjet.com/email/guides/webhooks/ and .../statistics/#event-errors: a bounce carries
# `hard_bounce`; `error` names the reason, also for `blocked` (never sent).
MAILJET = EspTable(
    key=lambda e: (e.get("event"), e.get("hard_bounce"), e.get("error")),
    kinds={
        ("bounce",): HARD,
        ("bounce", True): HARD,
        ("bounce", True, "user unknown"): INVALID,
        ("bounce", True, "invalid domain"): INVALID,
        ("bounce", True, "no mail host"): INVALID,
        ("bounce", False): SOFT,
        ("blocked",): None,
        ("blocked", None, "user unknown"): INVALID,
        ("blocked", None, "typofix"): INVALID,
        ("blocked", None, "spam reporter"): COMPLAINT,
        ("spam",): COMPLAINT,
        ("unsub",): UNSUBSCRIBE,
    },
)

# mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/
MANDRILL = EspTable(
    key=lambda e: (e.get("event"), _dig(e, "msg", "bounce_description")),
    kinds={
        ("hard_bounce",): HARD,
        ("hard_bounce", "bad_mailbox"): INVALID,
        ("hard_bounce", "invalid_domain"): INVALID,
        ("soft_bounce",): SOFT,
        ("spam",): COMPLAINT,
        ("unsub",): UNSUBSCRIBE,
        ("reject",): None,  # Mandrill's own rejection list, not a new fact about the address
    },
)

# developers.mailersend.com/api/v1/webhooks.html#payload-example
MAILERSEND = EspTable(
    key=lambda e: (_dig(e, "data", "type"),),
    kinds={
        ("hard_bounced",): HARD,
        ("soft_bounced",): SOFT,
        ("spam_complaint",): COMPLAINT,
        ("unsubscribed",): UNSUBSCRIBE,
    },
)


def _sparkpost_event(raw: Mapping) -> Any:
    # {"msys": {"message_event": {...}}}: the one event under its class.
    events = raw.get("msys")
    if isinstance(events, Mapping) and len(events) == 1:
        return next(iter(events.values()))
    return None


# support.sparkpost.com/docs/deliverability/bounce-classification-codes
SPARKPOST = EspTable(
    key=lambda e: (_dig(_sparkpost_event(e), "type"), _dig(_sparkpost_event(e), "bounce_class")),
    kinds={
        **{
            (bounce_type, bounce_class): kind
            for bounce_type in ("bounce", "out_of_band")
            for bounce_class, kind in {
                "1": SOFT,  # Undetermined
                "10": INVALID,  # Invalid Recipient
                "20": SOFT,  # Soft Bounce
                "21": SOFT,  # DNS Failure
                "22": SOFT,  # Mailbox Full
                "23": SOFT,  # Too Large
                "24": SOFT,  # Timeout
                "25": None,  # Admin Failure: our own sending policy
                "30": HARD,  # Generic Bounce: No RCPT
                "40": SOFT,  # Generic Bounce
                "50": None,  # Mail Block: the receiver blocks our sender
                "51": None,  # Spam Block
                "52": None,  # Spam Content
                "53": None,  # Prohibited Attachment
                "54": None,  # Relaying Denied
                "60": None,  # Auto-Reply
                "70": SOFT,  # Transient Failure
                "80": None,  # Subscribe
                "90": UNSUBSCRIBE,  # Unsubscribe
                "100": None,  # Challenge-Response
            }.items()
        },
        ("bounce",): SOFT,  # a class not (yet) in SparkPost's list
        ("out_of_band",): SOFT,
        ("spam_complaint",): COMPLAINT,
        ("list_unsubscribe",): UNSUBSCRIBE,
        ("link_unsubscribe",): UNSUBSCRIBE,
        ("policy_rejection",): None,
        ("generation_rejection",): None,
        ("generation_failure",): None,
    },
)

# resend.com/docs/dashboard/webhooks/event-types: `data.bounce.type` as Amazon SES's.
RESEND = EspTable(
    key=lambda e: (e.get("type"), _dig(e, "data", "bounce", "type")),
    kinds={
        ("email.bounced",): HARD,
        ("email.bounced", "permanent"): HARD,
        ("email.bounced", "transient"): SOFT,
        ("email.bounced", "undetermined"): SOFT,
        ("email.complained",): COMPLAINT,
    },
)

# docs.postalserver.io/developer/webhooks: `MessageDeliveryFailed` is a permanent SMTP refusal,
# `MessageDelayed` a temporary one, `MessageBounced` a bounce message received afterwards.
POSTAL = EspTable(
    key=lambda e: (e.get("event"), _dig(e, "payload", "status")),
    kinds={
        ("messagedeliveryfailed",): HARD,
        ("messagedeliveryfailed", "hardfail"): HARD,
        ("messagedeliveryfailed", "held"): None,
        ("messagedelayed",): SOFT,
        ("messagebounced",): HARD,
    },
)

# api-docs.mailtrap.io/docs/mailtrap-api-docs/016fe2a1efd5a-receive-events-json-format
MAILTRAP = EspTable(
    key=lambda e: (e.get("event"),),
    kinds={
        ("bounce",): HARD,
        ("soft bounce",): SOFT,
        ("spam",): COMPLAINT,
        ("unsubscribe",): UNSUBSCRIBE,
        ("reject",): None,  # Mailtrap's own suppression list
        ("suspension",): None,  # our account's sending was suspended
    },
)

# godocs.unisender.ru/web-api-ref#callback-format: `status` and `delivery_info.delivery_status`.
UNISENDER_GO = EspTable(
    key=lambda e: (e.get("status"), _dig(e, "delivery_info", "delivery_status")),
    kinds={
        ("hard_bounced",): HARD,
        ("hard_bounced", "err_user_unknown"): INVALID,
        ("hard_bounced", "err_domain_inactive"): INVALID,
        ("hard_bounced", "err_user_inactive"): HARD,
        ("hard_bounced", "err_mailbox_discarded"): HARD,
        ("hard_bounced", "err_skip_letter"): HARD,
        ("hard_bounced", "err_unreachable"): HARD,
        ("hard_bounced", "err_destination_misconfigured"): HARD,
        ("hard_bounced", "err_mailbox_full"): SOFT,
        ("hard_bounced", "err_too_large"): SOFT,
        ("hard_bounced", "err_delivery_failed"): SOFT,
        ("hard_bounced", "err_lost"): SOFT,
        # Refused as spam, or on a blacklist: about our message or sender, not the address.
        ("hard_bounced", "err_spam_rejected"): None,
        ("hard_bounced", "err_spam_skipped"): None,
        ("hard_bounced", "err_blacklisted"): None,
        ("hard_bounced", "err_unsubscribed"): None,  # Unisender's own list
        ("soft_bounced",): SOFT,
        ("spam",): COMPLAINT,
        ("unsubscribed",): UNSUBSCRIBE,
    },
)

# By Anymail's esp_name (what its tracking signal reports).
ESP_TABLES: dict[str, EspTable] = {
    "Postmark": POSTMARK,
    "Amazon SES": AMAZON_SES,
    "SendGrid": SENDGRID,
    "Mailgun": MAILGUN,
    "Brevo": BREVO,
    "SendinBlue": BREVO,
    "Mailjet": MAILJET,
    "Mandrill": MANDRILL,
    "MailerSend": MAILERSEND,
    "SparkPost": SPARKPOST,
    "Resend": RESEND,
    "Postal": POSTAL,
    "Mailtrap": MAILTRAP,
    "Unisender Go": UNISENDER_GO,
}

# Anymail's normalized reading, for events no table lists.
DIRECT_KINDS = {
    EventType.DEFERRED: SOFT,
    EventType.COMPLAINED: COMPLAINT,
    EventType.UNSUBSCRIBED: UNSUBSCRIBE,
    EventType.DELIVERED: FeedbackKind.DELIVERED,
    EventType.OPENED: FeedbackKind.OPENED,
    EventType.CLICKED: FeedbackKind.CLICKED,
}

# A `bounced` or `rejected` event by its reason; other reasons (a block, a virus notice, a
# timeout of our own) say nothing about the address.
BOUNCED_KINDS = {
    None: HARD,
    RejectReason.BOUNCED: HARD,
    RejectReason.INVALID: INVALID,
}
REJECTED_KINDS = {
    RejectReason.INVALID: INVALID,
    RejectReason.BOUNCED: HARD,
    RejectReason.SPAM: COMPLAINT,
    RejectReason.UNSUBSCRIBED: UNSUBSCRIBE,
}


def feedback_kind(esp_name: str, event) -> str | None:
    """The feedback kind of an Anymail tracking event, or None when it changes nothing."""
    table = ESP_TABLES.get(esp_name)
    if table is not None:
        found, kind = table.lookup(event.esp_event)
        if found:
            return kind
    if event.event_type == EventType.BOUNCED:
        return BOUNCED_KINDS.get(event.reject_reason)
    if event.event_type == EventType.REJECTED:
        return REJECTED_KINDS.get(event.reject_reason)
    return DIRECT_KINDS.get(event.event_type)
