"""Forms of the campaign workflow's steps: preview as, send a test, schedule; test lists."""

from __future__ import annotations

import datetime
import re
import zoneinfo
from functools import cache

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import Contact, TestList
from ..models.test_lists import MAX_TEST_LIST_ADDRESSES, canonical_test_addresses


def split_addresses(raw: str) -> list[str]:
    """Addresses typed one per line or separated by commas, semicolons or spaces."""
    return [part for part in re.split(r"[\s,;]+", raw or "") if part]


class PreviewAsForm(forms.Form):
    """Whose merge data and language fill the preview: a contact found by address, or, left
    empty, a stand-in. An address that is nobody's is an error at the field, never a stand-in."""

    contact = forms.CharField(
        label=_("Preview as"),
        required=False,
        max_length=254,
        help_text=_("A contact's email address; leave empty for a stand-in with no merge data."),
        widget=forms.TextInput(attrs={"placeholder": "name@example.com", "type": "search"}),
    )

    def clean_contact(self) -> Contact | None:
        wanted = (self.cleaned_data.get("contact") or "").strip()
        if not wanted:
            return None
        if wanted.isdigit():  # the id the contact page links with
            found = Contact.objects.active().filter(pk=int(wanted)).first()
        else:
            found = Contact.objects.by_email(wanted).first()
        if found is None:
            raise ValidationError(
                _("No contact has the address %(address)s."),
                code="unknown_contact",
                params={"address": wanted[:254]},
            )
        return found


class TestSendForm(PreviewAsForm):
    """A saved test list, addresses typed here, or both: at most MAX_TEST_LIST_ADDRESSES."""

    test_list = forms.ModelChoiceField(
        label=_("Test list"),
        queryset=TestList.objects.all(),
        required=False,
        empty_label=_("(none: type the addresses)"),
    )
    addresses = forms.CharField(
        label=_("Addresses"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "qa@example.com"}),
        help_text=_("One per line or comma-separated; at most %(max)d in all.")
        % {"max": MAX_TEST_LIST_ADDRESSES},
    )

    def clean(self):
        cleaned = super().clean()
        chosen = cleaned.get("test_list")
        wanted = [*(chosen.addresses if chosen else []), *split_addresses(cleaned.get("addresses"))]
        if not wanted:
            raise ValidationError(_("Pick a test list or type at least one address."))
        try:
            cleaned["recipients"] = canonical_test_addresses(wanted)
        except ValidationError as exc:
            self.add_error("addresses", exc)
        return cleaned


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    names = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})
    return [(name, name.replace("_", " ")) for name in names]


def default_time_zone() -> str:
    """The staff user's active time zone, else the deployment's DEFAULT_TIME_ZONE, else UTC."""
    active = timezone.get_current_timezone_name()
    if active and active != "UTC":
        return active
    return getattr(settings, "DEFAULT_TIME_ZONE", "") or "UTC"


class ScheduleForm(forms.Form):
    """A wall-clock date and time in a named time zone: the moment the campaign starts."""

    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(
        label=_("Time"), widget=forms.TimeInput(attrs={"type": "time", "step": 1})
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=time_zone_choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zone = default_time_zone()
        self.fields["time_zone"].initial = zone
        self.fields["date"].initial = timezone.localdate(timezone=zoneinfo.ZoneInfo(zone))

    def clean(self):
        cleaned = super().clean()
        date, time, zone = cleaned.get("date"), cleaned.get("time"), cleaned.get("time_zone")
        if date is None or time is None or not zone:
            return cleaned
        at = datetime.datetime.combine(date, time, tzinfo=zoneinfo.ZoneInfo(zone))
        if at <= timezone.now():
            self.add_error("time", _("This time has already passed in %(zone)s.") % {"zone": zone})
        cleaned["at"] = at
        return cleaned


class TestListForm(forms.ModelForm):
    """A test list with its addresses typed one per line."""

    addresses = forms.CharField(
        label=_("Addresses"),
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("One per line; at most %(max)d.") % {"max": MAX_TEST_LIST_ADDRESSES},
    )

    class Meta:
        model = TestList
        fields = ["name", "addresses"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["addresses"] = "\n".join(self.instance.addresses)

    def clean_addresses(self) -> list[str]:
        addresses = canonical_test_addresses(split_addresses(self.cleaned_data["addresses"]))
        if not addresses:
            raise ValidationError(_("Give at least one address."))
        return addresses
