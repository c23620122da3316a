"""Forms of the public subscriber pages."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..addresses import InvalidAddress, normalize_email
from ..consent.preferences import TopicChoice
from ..models import Topic
from ..models.choices import Frequency


def _clean_address(value: str) -> str:
    try:
        return normalize_email(value)
    except InvalidAddress:
        raise forms.ValidationError(
            _("Enter a valid email address, like name@example.com."), code="invalid"
        ) from None


def subscribe_wording() -> str:
    """The consent wording of the subscribe form, recorded with the request it proves."""
    return gettext(
        "I agree to receive emails from %(org)s about the topics I chose. "
        "I can unsubscribe at any time with the link in every email."
    ) % {"org": settings.ORGANIZATION_NAME}


def preferences_wording() -> str:
    """The consent wording shown on the preference page, recorded with every change there."""
    return gettext(
        "By switching a topic on, I agree to receive emails about it from %(org)s. "
        "I can switch it off here at any time."
    ) % {"org": settings.ORGANIZATION_NAME}


class TopicsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Topic) -> str:
        # Rendered in the page's language: the visitor's, from their browser.
        return obj.display_name


class SubscribeForm(forms.Form):
    email = forms.CharField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )
    topics = TopicsField(
        label=_("What would you like to hear about?"),
        queryset=Topic.objects.filter(is_active=True),
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": _("Choose at least one topic."),
            "invalid_choice": _("That topic does not exist."),
            "invalid_pk_value": _("That topic does not exist."),
        },
    )
    consent = forms.BooleanField(
        error_messages={"required": _("Please tick the box to agree.")},
    )
    age_confirmed = forms.BooleanField(required=False)
    # Honeypot: hidden from people, filled in by bots.
    website = forms.CharField(required=False, label=_("Leave this field empty"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["consent"].label = subscribe_wording()
        age = settings.MINIMUM_AGE
        self.fields["age_confirmed"].label = _("I am at least %(age)s years old.") % {"age": age}
        self.fields["age_confirmed"].required = settings.SUBSCRIBE_REQUIRE_AGE_CONFIRMATION
        self.fields["age_confirmed"].error_messages["required"] = _(
            "Please confirm your age to subscribe."
        )

    def clean_email(self) -> str:
        return _clean_address(self.cleaned_data["email"])


class AddressForm(forms.Form):
    email = forms.CharField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )

    def clean_email(self) -> str:
        return _clean_address(self.cleaned_data["email"])


# What each frequency promises, in the words the preference page offers it with: the sender
# keeps exactly this (models.querysets.FREQUENCY_WINDOWS).
FREQUENCY_MEANINGS = {
    Frequency.IMMEDIATE: _("As it happens: every campaign"),
    Frequency.DAILY: _("Daily: at most one a day"),
    Frequency.WEEKLY: _("Weekly: at most one every 7 days"),
    Frequency.MONTHLY: _("Monthly: at most one every 30 days"),
}


class PreferencesForm(forms.Form):
    """One on/off field and one frequency field per active topic: `on-<slug>`, `freq-<slug>`."""

    def __init__(self, *args, topics: list[Topic], **kwargs):
        super().__init__(*args, **kwargs)
        self.topics = topics
        for topic in topics:
            self.fields[f"on-{topic.slug}"] = forms.BooleanField(
                required=False, label=topic.display_name
            )
            self.fields[f"freq-{topic.slug}"] = forms.ChoiceField(
                required=False,
                label=_("How often"),
                choices=[(f, FREQUENCY_MEANINGS[f]) for f in topic.offered_frequencies],
                error_messages={"invalid_choice": _("Choose one of the frequencies offered.")},
            )

    def clean(self):
        # A field for a topic not on the page (unknown, inactive or forged) is refused.
        known = set(self.fields)
        for key in self.data:
            if key.startswith(("on-", "freq-")) and key not in known:
                raise forms.ValidationError(_("That topic does not exist."), code="unknown_topic")
        return super().clean()

    def choices(self) -> dict[str, TopicChoice]:
        data = self.cleaned_data
        return {
            t.slug: TopicChoice(
                subscribed=bool(data.get(f"on-{t.slug}")),
                frequency=data.get(f"freq-{t.slug}") or None,
            )
            for t in self.topics
        }
