"""Request and response shapes of the API (DESIGN.md's table), validated strictly."""

from __future__ import annotations

from email.utils import parseaddr

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..addresses import InvalidAddress, normalize_email
from ..campaigns.stats import campaign_stats
from ..models import Campaign, ConsentEvent, Contact, Subscription, Topic
from ..models.choices import (
    CampaignStatus,
    Channel,
    Frequency,
    ImpliedBy,
    LegalBasis,
    SuppressionReason,
    SuppressionScope,
)
from ..models.contacts import TOPIC_LANGUAGES, translated_field
from .fields import AttributesField, EmailField, LocaleField, StrictSerializer

# What can imply a soft opt-in (ImpliedBy without its empty "not implied").
IMPLIED_BY_CHOICES = [choice for choice in ImpliedBy.choices if choice[0]]


# --- topics ---------------------------------------------------------------------------------


class TopicSerializer(StrictSerializer):
    slug = serializers.SlugField(max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.EMAIL)
    frequencies = serializers.ListField(
        child=serializers.ChoiceField(choices=Frequency.choices),
        required=False,
        max_length=len(Frequency.choices),
        help_text="Frequencies the topic offers; the first is the default.",
    )

    def get_fields(self) -> dict:
        # `name_da`, `description_da`, …: one pair per other language in LANGUAGES, as the
        # admin shows them; blank means pages in that language show `name` and `description`.
        fields = super().get_fields()
        for language in TOPIC_LANGUAGES:
            fields[translated_field("name", language)] = serializers.CharField(
                max_length=200, required=False, allow_blank=True, default=""
            )
            fields[translated_field("description", language)] = serializers.CharField(
                required=False, allow_blank=True, default=""
            )
        return fields

    @staticmethod
    def translations(data: dict) -> dict[str, dict[str, str]]:
        """The translations in validated `data`, as topic_create takes them."""
        return {
            language: {
                field: data[translated_field(field, language)] for field in ("name", "description")
            }
            for language in TOPIC_LANGUAGES
        }

    def to_representation(self, topic: Topic) -> dict:
        translated = {
            translated_field(field, language): getattr(topic, translated_field(field, language))
            for language in TOPIC_LANGUAGES
            for field in ("name", "description")
        }
        return {
            "slug": topic.slug,
            "name": topic.name,
            "description": topic.description,
            **translated,
            "channel": topic.channel,
            "frequencies": topic.offered_frequencies,
        }


# --- contacts -------------------------------------------------------------------------------


class SubscriptionSerializer(serializers.ModelSerializer):
    topic = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Subscription
        fields = ["topic", "status", "legal_basis", "frequency", "paused_until"]
        read_only_fields = fields


class ContactSerializer(serializers.ModelSerializer):
    subscriptions = SubscriptionSerializer(many=True, read_only=True)
    attributes = serializers.DictField(read_only=True)

    class Meta:
        model = Contact
        fields = ["id", "email", "external_id", "locale", "attributes", "subscriptions"]
        read_only_fields = fields


class ContactInSerializer(StrictSerializer):
    email = EmailField()
    external_id = serializers.CharField(max_length=255, required=False, allow_null=True)
    locale = LocaleField(required=False)
    attributes = AttributesField(required=False)
    double_opt_in = serializers.BooleanField(
        default=False,
        help_text=(
            "Ask the person to confirm `topics` by email; the contact's subscriptions stay "
            "`pending` until then. The only way to create a contact for an erased address."
        ),
    )
    topics = serializers.ListField(
        child=serializers.SlugField(max_length=64),
        required=False,
        max_length=50,
        help_text="Slugs of the topics to ask confirmation for (with double_opt_in).",
    )

    def validate(self, data):
        if data["double_opt_in"] and not data.get("topics"):
            raise serializers.ValidationError({"topics": ["Name the topics to confirm."]})
        if data.get("topics") and not data["double_opt_in"]:
            raise serializers.ValidationError({"topics": ["Only with double_opt_in."]})
        return data


class SubscriptionInSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=["subscribed", "unsubscribed"])
    legal_basis = serializers.ChoiceField(choices=LegalBasis.choices, default=LegalBasis.CONSENT)
    implied_by = serializers.ChoiceField(
        choices=IMPLIED_BY_CHOICES,
        required=False,
        help_text="For a soft opt-in: what implied it (purchase or inquiry).",
    )
    frequency = serializers.ChoiceField(choices=Frequency.choices, required=False)
    evidence = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="Proof of the consent (form, page, wording); kept in the ledger row.",
    )
    double_opt_in = serializers.BooleanField(
        default=False,
        help_text="Ask the person to confirm by email; the only way to re-subscribe an opt-out.",
    )

    def validate(self, data):
        if data.get("implied_by") and data["legal_basis"] != LegalBasis.SOFT_OPT_IN:
            raise serializers.ValidationError({"implied_by": ["Only for legal_basis soft_opt_in."]})
        return data


class SubscriptionOutSerializer(SubscriptionSerializer):
    confirmation_sent = serializers.BooleanField(
        read_only=True,
        help_text="A double opt-in confirmation was emailed; the status changes when confirmed.",
    )

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "confirmation_sent"]
        read_only_fields = fields


class SignalInSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=IMPLIED_BY_CHOICES)
    at = serializers.DateTimeField(required=False, help_text="When it happened; default now.")

    def validate_at(self, value):
        if value > timezone.now():
            raise serializers.ValidationError("May not be in the future.")
        return value


class SignalOutSerializer(serializers.Serializer):
    renewed = serializers.IntegerField(help_text="How many implied consents were renewed.")


class EvidenceSerializer(StrictSerializer):
    evidence = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ConsentEventSerializer(serializers.ModelSerializer):
    topic = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = ConsentEvent
        fields = [
            "id",
            "topic",
            "action",
            "old_status",
            "new_status",
            "source",
            "actor",
            "policy_version",
            "created_at",
        ]
        read_only_fields = fields


# --- suppressions ---------------------------------------------------------------------------


class SuppressionInSerializer(StrictSerializer):
    email = EmailField()
    reason = serializers.ChoiceField(choices=SuppressionReason.choices)
    scope = serializers.ChoiceField(choices=SuppressionScope.choices, required=False)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class SuppressionOutSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=SuppressionReason.choices, read_only=True)
    scope = serializers.ChoiceField(choices=SuppressionScope.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class SuppressionCheckSerializer(serializers.Serializer):
    suppressed = serializers.BooleanField()
    scope = serializers.ChoiceField(choices=SuppressionScope.choices, allow_null=True)
    reasons = serializers.ListField(child=serializers.ChoiceField(SuppressionReason.choices))


class EmailQuerySerializer(StrictSerializer):
    email = EmailField()


# --- transactional --------------------------------------------------------------------------


def _single_line(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise serializers.ValidationError("Must be a single line.")
    return value


def _sender(value: str) -> str:
    if value:
        _name, address = parseaddr(value)
        try:
            normalize_email(address)
        except InvalidAddress:
            raise serializers.ValidationError("Not a valid sender address.") from None
    return value


class TransactionalInSerializer(StrictSerializer):
    to = EmailField()
    subject = serializers.CharField(max_length=300, validators=[_single_line])
    text_body = serializers.CharField(max_length=100_000, trim_whitespace=False)
    html_body = serializers.CharField(
        max_length=200_000, required=False, allow_blank=True, trim_whitespace=False
    )


class TransactionalOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()


# --- campaigns ------------------------------------------------------------------------------


class CampaignInSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    topic = serializers.SlugField(max_length=64, help_text="The topic's slug.")
    subject = serializers.CharField(max_length=300, validators=[_single_line])
    html_body = serializers.CharField(
        max_length=200_000, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    text_body = serializers.CharField(
        max_length=100_000, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    from_email = serializers.CharField(
        max_length=254,
        required=False,
        allow_blank=True,
        default="",
        validators=[_single_line, _sender],
        help_text='An address or "Name <address>"; empty: the default sender.',
    )
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    segment = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        help_text="A segment's id: only the topic's contacts it matches are sent to.",
    )


class CampaignTestInSerializer(StrictSerializer):
    to = serializers.ListField(child=EmailField(), min_length=1, max_length=20)


class CampaignTestOutSerializer(serializers.Serializer):
    sent = serializers.IntegerField(help_text="Messages sent.")
    refused = serializers.ListField(
        child=serializers.CharField(), help_text="Suppressed addresses, not mailed."
    )


class CampaignStatsSerializer(serializers.Serializer):
    audience = serializers.IntegerField()
    pending = serializers.IntegerField()
    sent = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()
    bounced = serializers.IntegerField()
    complained = serializers.IntegerField()
    unsubscribed = serializers.IntegerField()
    claimed = serializers.IntegerField(required=False, help_text="Being sent now (in pending).")
    outcome_unknown = serializers.IntegerField(
        required=False,
        help_text="Failed because a worker died mid-send; never resent automatically.",
    )
    skipped_by_reason = serializers.DictField(child=serializers.IntegerField(), required=False)


class CampaignSerializer(serializers.ModelSerializer):
    topic = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    status = serializers.ChoiceField(choices=CampaignStatus.choices, read_only=True)
    segment = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    stats = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "topic",
            "segment",
            "subject",
            "from_email",
            "status",
            "scheduled_at",
            "created_at",
            "started_at",
            "finished_at",
            "stats",
        ]
        read_only_fields = fields

    @extend_schema_field(CampaignStatsSerializer)
    def get_stats(self, campaign: Campaign) -> dict:
        return CampaignStatsSerializer(campaign_stats(campaign)).data


# --- the host product: preference links, consent check -------------------------------------


class PreferenceLinkInSerializer(StrictSerializer):
    return_url = serializers.CharField(required=False, allow_blank=True, default="")


class PreferenceLinkOutSerializer(serializers.Serializer):
    url = serializers.URLField()
    expires_at = serializers.DateTimeField()


class ConsentCheckQuerySerializer(StrictSerializer):
    email = EmailField(required=False)
    external_id = serializers.CharField(required=False, max_length=255)
    topic = serializers.CharField(max_length=64)

    def validate(self, attrs):
        if ("email" in attrs) == ("external_id" in attrs):
            raise serializers.ValidationError("Give either email or external_id.")
        return attrs


class ConsentCheckSerializer(serializers.Serializer):
    marketable = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True)


# --- errors ---------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="A stable machine-readable code.")
    detail = serializers.CharField(help_text="What went wrong, for people.")
    fields = serializers.DictField(
        required=False, help_text="Per-field messages of a validation error."
    )
