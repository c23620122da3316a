"""Email layouts: the branded frames campaigns are sent in (logo, colours, footer placement)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from ..mail.layouts import InvalidLayout, check_layout
from ..models import EmailLayout


class EmailLayoutForm(forms.ModelForm):
    """Refuses a layout that would not compile in every language, at the MJML field."""

    logo_url = forms.URLField(
        label=_("logo URL"),
        required=False,
        assume_scheme="https",
        help_text=EmailLayout._meta.get_field("logo_url").help_text,
    )

    class Meta:
        model = EmailLayout
        fields = [
            "name",
            "is_default",
            "logo_url",
            "brand_color",
            "background_color",
            "text_color",
            "mjml",
        ]
        widgets = {"mjml": forms.Textarea(attrs={"rows": 16, "class": "font-mono"})}

    def clean(self):
        cleaned = super().clean()
        draft = EmailLayout(**{name: cleaned.get(name, "") for name in self.Meta.fields})
        draft.pk = self.instance.pk
        try:
            check_layout(draft)
        except InvalidLayout as exc:
            self.add_error("mjml" if draft.mjml else None, str(exc))
        return cleaned


@admin.register(EmailLayout)
class EmailLayoutAdmin(ModelAdmin):
    form = EmailLayoutForm
    list_display = ["name", "is_default", "brand_color", "campaign_count", "updated_at"]
    search_fields = ["name"]

    @admin.display(description=_("campaigns"))
    def campaign_count(self, obj: EmailLayout) -> int:
        return obj.campaigns.count()
