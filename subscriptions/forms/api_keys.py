"""The console's "new API key" form: a name and the scopes as checkboxes."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ..api.keys import DuplicateKeyName, api_key_name_check
from ..models.choices import ApiScope


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_(
            "Who or what uses the key, e.g. “crm-sync”. It names the key's changes in the consent history."
        ),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Give the key only what its integration needs."),
        error_messages={
            "required": _("Choose at least one scope: a key that can do nothing is a mistake.")
        },
    )

    def clean_name(self) -> str:
        try:
            return api_key_name_check(self.cleaned_data["name"])
        except DuplicateKeyName:
            raise forms.ValidationError(
                _("A key with this name exists already; choose another name."), code="duplicate"
            ) from None
        except ValueError:
            raise forms.ValidationError(
                _("Enter a name of 1 to 100 characters."), code="invalid"
            ) from None
