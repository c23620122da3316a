"""The vocabularies shared by models, services, API and admin."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


class Frequency(models.TextChoices):
    IMMEDIATE = "immediate", _("As it happens")
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly")
    MONTHLY = "monthly", _("Monthly")


class SubscriptionStatus(models.TextChoices):
    PENDING = "pending", _("Pending confirmation")
    SUBSCRIBED = "subscribed", _("Subscribed")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")


class LegalBasis(models.TextChoices):
    CONSENT = "consent", _("Consent")
    SOFT_OPT_IN = "soft_opt_in", _("Soft opt-in (existing customer)")


class ImpliedBy(models.TextChoices):
    """What gave rise to a soft opt-in; each lapses after its own period."""

    NONE = "", _("Not implied")
    PURCHASE = "purchase", _("Purchase")
    INQUIRY = "inquiry", _("Inquiry")


class Source(models.TextChoices):
    PREFERENCE_PAGE = "preference_page", _("Preference page")
    SUBSCRIBE_FORM = "subscribe_form", _("Subscribe form")
    CONFIRMATION = "confirmation", _("Double opt-in confirmation")
    UNSUBSCRIBE_LINK = "unsubscribe_link", _("Unsubscribe link")
    ONE_CLICK = "one_click", _("One-click unsubscribe")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    ESP_WEBHOOK = "esp_webhook", _("ESP webhook")
    ADMIN = "admin", _("Admin")
    RETENTION = "retention", _("Retention")
    ADDRESS_MERGE = "address_merge", _("Merge of two spellings of one address")


class Action(models.TextChoices):
    SUBSCRIBE_REQUESTED = "subscribe_requested", _("Subscription requested")
    SUBSCRIBED = "subscribed", _("Subscribed")
    CONFIRMED = "confirmed", _("Confirmed")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    UNSUBSCRIBED_ALL = "unsubscribed_all", _("Unsubscribed from all")
    PAUSED = "paused", _("Paused")
    RESUMED = "resumed", _("Resumed")
    FREQUENCY_CHANGED = "frequency_changed", _("Frequency changed")
    LAPSED = "lapsed", _("Implied consent lapsed")
    SUPPRESSED = "suppressed", _("Suppressed")
    UNSUPPRESSED = "unsuppressed", _("Suppression removed")
    ERASED = "erased", _("Erased")
    EXPORTED = "exported", _("Data exported")
    ADDRESS_CHANGED = "address_changed", _("Address changed")
    MERGED = "merged", _("Merged with another spelling of the address")


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED_ALL = "unsubscribed_all", _("Unsubscribed from all")
    HARD_BOUNCE = "hard_bounce", _("Hard bounce")
    SOFT_BOUNCE_LIMIT = "soft_bounce_limit", _("Too many soft bounces")
    COMPLAINT = "complaint", _("Spam complaint")
    INVALID = "invalid", _("Invalid address")
    MANUAL = "manual", _("Added by staff")
    ERASED = "erased", _("Erased on request")


class SuppressionScope(models.TextChoices):
    MARKETING = "marketing", _("Marketing mail")
    ALL = "all", _("All mail, transactional too")


class LinkVia(models.TextChoices):
    """How a preference link reached the person; carried (signed) inside the token.

    A link handed out by a page never carries more power than the link that led to it, so a
    derived link keeps the issue time of its parent and says where it was derived.
    """

    CAMPAIGN = "campaign", _("Campaign email")
    LOST_LINK = "lost_link", _("Lost-link email")
    POLICY_NOTICE = "policy_notice", _("Policy-change notice")
    HOST_LINK = "host_link", _("Host product link")
    UNSUBSCRIBE_PAGE = "unsubscribe_page", _("Unsubscribe page")
    CONFIRMATION = "confirmation", _("Confirmation page")
    ACCOUNT = "account", _("Signed-in account")
    UNKNOWN = "unknown", _("Issued before links recorded their origin")


class ApiScope(models.TextChoices):
    """What an API key may do (DESIGN's HTTP API); a call outside them answers 403."""

    READ = "read", _("Read (every GET)")
    WRITE = "write", _("Write contacts, topics, subscriptions, suppressions, imports, webhooks")
    SEND = "send", _("Send campaigns and transactional mail")
    PRIVACY = "privacy", _("Export and erase personal data")
    SMS = "sms", _("Inbound SMS")


def all_api_scopes() -> list[str]:
    """Every scope: the default of a new key, and what keys made before scopes existed got."""
    return list(ApiScope.values)


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    PAUSED = "paused", _("Paused")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    CLAIMED = "claimed", _("Claimed")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")


class PrivacyAction(models.TextChoices):
    EXPORT = "export", _("Download my data")
    ERASE = "erase", _("Erase my data")


class TransactionalStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    REFUSED = "refused", _("Refused (suppressed)")


# --- consent, suppression, import and feedback vocabularies (issue 10, helper B) -------------

# Reasons that also block transactional mail: the address cannot receive anything.
ALL_MAIL_REASONS = frozenset(
    {SuppressionReason.HARD_BOUNCE, SuppressionReason.INVALID, SuppressionReason.SOFT_BOUNCE_LIMIT}
)


def suppression_default_scope(reason: str) -> str:
    """The scope a suppression of `reason` takes unless its caller widens it."""
    return SuppressionScope.ALL if reason in ALL_MAIL_REASONS else SuppressionScope.MARKETING


class FeedbackKind(models.TextChoices):
    """What an ESP reported about a message, normalized: each webhook maps its events to one."""

    HARD_BOUNCE = "hard_bounce", _("Hard bounce")
    INVALID = "invalid", _("Invalid address")
    SOFT_BOUNCE = "soft_bounce", _("Soft bounce")
    COMPLAINT = "complaint", _("Spam complaint")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribed at the ESP")
    DELIVERED = "delivered", _("Delivered")
    OPENED = "opened", _("Opened")
    CLICKED = "clicked", _("Clicked")


class ComplaintRateLevel(models.TextChoices):
    """How a campaign's complaint rate stands against COMPLAINT_RATE_WARN / _PAUSE."""

    OK = "ok", _("Normal")
    WARN = "warn", _("At or above the warning rate")
    PAUSE = "pause", _("Above the pause rate")


class ImportRowOutcome(models.TextChoices):
    """What importing one CSV row did (its contact, and its subscription to the topic)."""

    CREATED = "created", _("Contact created")
    UPDATED = "updated", _("Contact updated")
    SUBSCRIBED = "subscribed", _("Subscribed")
    ALREADY_SUBSCRIBED = "already_subscribed", _("Already subscribed")
    KEPT_UNSUBSCRIBED = "kept_unsubscribed", _("Kept unsubscribed")
    KEPT_SUPPRESSED = "kept_suppressed", _("Kept suppressed")
    INVALID = "invalid", _("Invalid row")
    # The same mailbox again further down the file: the later row wins, this one is skipped.
    DUPLICATE = "duplicate", _("Same address as a later row")
    # Suppression-list mode: a hash added to the list, or one it already held.
    SUPPRESSED = "suppressed", _("Suppressed")
    ALREADY_SUPPRESSED = "already_suppressed", _("Already suppressed")
    # Attributes-only mode: an address with no contact is not created.
    NOT_FOUND = "not_found", _("No such contact")
    UNCHANGED = "unchanged", _("Contact unchanged")


class ImportStatus(models.TextChoices):
    """Where one run of an import file is."""

    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportMode(models.TextChoices):
    """What an import file does to the addresses it lists."""

    SUBSCRIBE = "subscribe", _("Subscribe to a topic")
    SUPPRESS = "suppress", _("Add to the suppression list (hashes only)")
    ATTRIBUTES = "attributes", _("Update attributes of existing contacts")


# The pauses the preference page offers: its button's action → days.
PAUSE_DAYS = {"pause30": 30, "pause90": 90}


class SkipReason(models.TextChoices):
    """Why a delivery was not sent (Delivery.reason): the strings stored since the first send.

    The marketability blockers come first, in the order the re-check names them when several
    apply (models.querysets.MARKETABILITY_BLOCKERS); the others are set by the sending services.
    """

    ERASED = "erased", _("Erased")
    SUPPRESSED = "suppressed", _("On the suppression list")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    PAUSED = "paused", _("Paused")
    UNDER_AGE = "under_age", _("Under the minimum age")
    FREQUENCY = "frequency", _("Frequency: a campaign of the topic was sent too recently")
    CONTACT_CAP = "contact_cap", _("Per-contact cap across topics reached")
    CANCELLED = "cancelled", _("Campaign cancelled")
    OUTCOME_UNKNOWN = "outcome_unknown", _("Outcome unknown (never resent)")
    MERGED = "merged", _("Merged into another contact")
    ERROR = "error", _("Refused by the transport")


class SendOutcome(models.TextChoices):
    """What the mail transport answered for one marketing message (never stored: the send loop
    turns it into a DeliveryStatus)."""

    SENT = "sent", _("Accepted")
    REFUSED = "refused", _("Refused; it did not leave")
    RETRY = "retry", _("Not accepted; call again later")
    UNKNOWN = "unknown", _("Answer lost; it may have left")


class LinkHitKind(models.TextChoices):
    """Which email link a counted GET opened (LinkHit)."""

    UNSUBSCRIBE = "unsubscribe", _("Unsubscribe page")
    PREFERENCES = "preferences", _("Preference page")
    CONFIRM = "confirm", _("Confirmation page")
