"""Admin for topics: what people subscribe to, and the frequencies each offers."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from ..models import Topic
from ..models.choices import Frequency
from ..models.contacts import TOPIC_LANGUAGES, translated_field
from .exports import SubscribersExportMixin

# One name and one description box per language the pages speak, beside the default ones.
_TRANSLATIONS = [
    translated_field(field, language)
    for language in TOPIC_LANGUAGES
    for field in ("name", "description")
]


class TopicForm(forms.ModelForm):
    frequencies = forms.MultipleChoiceField(
        choices=Frequency.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=_("Frequencies offered"),
        help_text=_("The first one ticked is the default. None ticked: as it happens."),
    )

    class Meta:
        model = Topic
        fields = [
            "name",
            "slug",
            "description",
            *_TRANSLATIONS,
            "channel",
            "frequencies",
            "is_active",
            "position",
        ]

    def clean_frequencies(self) -> list[str]:
        chosen = set(self.cleaned_data["frequencies"])
        return [value for value in Frequency.values if value in chosen]


@admin.register(Topic)
class TopicAdmin(SubscribersExportMixin, ModelAdmin):
    form = TopicForm
    list_display = ["name", "slug", "channel", "is_active", "position", "subscriber_count"]
    list_editable = ["position"]
    list_filter = ["channel", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["name", "slug", "description"]}),
        (
            _("Translations"),
            {
                "fields": _TRANSLATIONS,
                "description": _(
                    "The name and description in each other language; left blank, pages "
                    "in that language show the ones above."
                ),
            },
        ),
        (None, {"fields": ["channel", "frequencies", "is_active", "position"]}),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                subscribed=Count("subscriptions", filter=Q(subscriptions__status="subscribed"))
            )
        )

    @admin.display(description=_("subscribed"), ordering="subscribed")
    def subscriber_count(self, obj: Topic) -> int:
        return obj.subscribed

    def has_delete_permission(self, request, obj=None):
        # Subscriptions and ledger rows point at topics; retire a topic by deactivating it.
        return False
