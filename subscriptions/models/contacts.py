from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from ..locales import validate_locale
from .choices import Channel, Frequency, ImpliedBy, LegalBasis, SubscriptionStatus
from .querysets import ContactQuerySet


class Contact(models.Model):
    """One person. Personal fields are blanked on erasure; the row stays for the ledger."""

    email = models.CharField(_("email"), max_length=254, blank=True)
    # Lowercased normalized address: the case-insensitive matching key (NULL once erased).
    email_key = models.CharField(max_length=254, unique=True, null=True, editable=False)
    # Keyed hash of the address, joined against Suppression in set-based audience queries.
    address_hash = models.CharField(max_length=64, db_index=True, blank=True, editable=False)
    # The random subject of every signed token: opaque, unguessable, rotated on erasure.
    token_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(
        _("external id"), max_length=255, null=True, blank=True, unique=True
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contact",
    )
    locale = models.CharField(
        _("locale"), max_length=10, default="en", validators=[validate_locale]
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    country = models.CharField(_("country"), max_length=2, blank=True)
    attributes = models.JSONField(_("merge attributes"), default=dict, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    age_confirmed = models.BooleanField(_("age confirmed"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when this row turned out to be another spelling of the same mailbox and was merged into
    # that contact: it keeps its ledger rows and deliveries, is never mailed, and its old links
    # act on the contact it was merged into.
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_contacts",
        editable=False,
    )

    objects = ContactQuerySet.as_manager()

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.email or f"erased contact #{self.pk}"

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None


class ContactAddressHash(models.Model):
    """A hash of an older canonical form of the contact's address, where it differs.

    Suppressions are keyed by hash and cannot be re-hashed, so the audience queries match them
    against these too (see subscriptions.addresses). Usually a contact has none.
    """

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="alias_hashes")
    address_hash = models.CharField(max_length=64, db_index=True)
    version = models.PositiveSmallIntegerField()

    class Meta:
        verbose_name = _("older address hash")
        verbose_name_plural = _("older address hashes")
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "address_hash"], name="one_alias_hash_per_contact"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.address_hash[:12]}… v{self.version}"


class Topic(models.Model):
    """What people subscribe to."""

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel, default=Channel.EMAIL)
    # The frequencies this topic offers, a subset of Frequency; the first is the default.
    frequencies = models.JSONField(_("frequencies offered"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def name_in(self, language: str | None) -> str:
        """The name in `language` (e.g. "da" or "da-dk"), else in LANGUAGE_CODE."""
        return _translated(self, "name", language)

    def description_in(self, language: str | None) -> str:
        """The description in `language`, else in LANGUAGE_CODE (a blank translation falls
        back: a half-translated topic still reads whole)."""
        return _translated(self, "description", language)

    # What pages show: the active language is the contact's (the views override it).
    @property
    def display_name(self) -> str:
        return self.name_in(get_language())

    @property
    def display_description(self) -> str:
        return self.description_in(get_language())

    @property
    def offered_frequencies(self) -> list[str]:
        valid = [f for f in self.frequencies if f in Frequency.values]
        return valid or [Frequency.IMMEDIATE]

    @property
    def default_frequency(self) -> str:
        return self.offered_frequencies[0]


def translated_field(field: str, language: str) -> str:
    """The column of `field` in `language`: `name_da` for ("name", "da")."""
    return f"{field}_{language.replace('-', '_')}"


# Every language the pages speak besides LANGUAGE_CODE (which `name` and `description` hold)
# gets its own columns, as django-modeltranslation would add them, without patching `name`:
# queries, ordering and the ledger keep the one canonical name.
TOPIC_LANGUAGES: list[str] = [
    code.lower() for code, _label in settings.LANGUAGES if code != settings.LANGUAGE_CODE
]
for _language in TOPIC_LANGUAGES:
    Topic.add_to_class(
        translated_field("name", _language),
        models.CharField(format_lazy("{} ({})", _("name"), _language), max_length=200, blank=True),
    )
    Topic.add_to_class(
        translated_field("description", _language),
        models.TextField(format_lazy("{} ({})", _("description"), _language), blank=True),
    )


def _translated(topic: Topic, field: str, language: str | None) -> str:
    language = (language or "").lower()
    for candidate in (language, language.split("-")[0]):
        if candidate in TOPIC_LANGUAGES:
            value = getattr(topic, translated_field(field, candidate))
            if value:
                return value
    return getattr(topic, field)


class Subscription(models.Model):
    """A contact's standing on one topic. Changed only through the consent services (subscriptions.consent)."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="subscriptions")
    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=20, choices=SubscriptionStatus)
    legal_basis = models.CharField(max_length=20, choices=LegalBasis, default=LegalBasis.CONSENT)
    implied_by = models.CharField(
        max_length=20, choices=ImpliedBy, default=ImpliedBy.NONE, blank=True
    )
    # Last purchase or inquiry that renewed an implied (soft opt-in) consent.
    implied_at = models.DateTimeField(null=True, blank=True)
    frequency = models.CharField(max_length=20, choices=Frequency, default=Frequency.IMMEDIATE)
    paused_until = models.DateTimeField(null=True, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        # Exports hand over personal data in bulk: a role of its own, apart from viewing.
        permissions = [("export_subscribers", _("Can export a topic's subscribers as CSV"))]
        constraints = [
            models.UniqueConstraint(fields=["contact", "topic"], name="one_subscription_per_topic"),
        ]
        indexes = [models.Index(fields=["topic", "status"])]

    def __str__(self) -> str:
        return f"{self.contact} · {self.topic.slug}: {self.status}"
