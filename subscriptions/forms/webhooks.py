"""The staff console's form to add a webhook endpoint."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ..integrations.endpoints import WebhookError, url_vet
from ..models import WebhookEndpoint
from ..models.choices import OutboundEventType


class WebhookEndpointForm(forms.ModelForm):
    """URL and event types; the URL is vetted as the API vets it (http(s), public address)."""

    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=OutboundEventType.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one event type.")},
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            url_vet(url)
        except WebhookError as error:
            raise forms.ValidationError(str(error), code=error.code) from None
        return url
