"""Segments in the console: an AND/OR builder of `field op value` conditions with a live count of
the contacts they match. The builder (static/subscriptions/segment_builder.js) edits the rules
JSON field in place, so without JavaScript the JSON is still editable and checked the same way;
every rule is checked and compiled by campaigns.segments, the one compile sending uses."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import JsonResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from ..campaigns.segments import (
    ATTRIBUTE_PREFIX,
    FIELDS,
    InvalidSegmentRules,
    SegmentTopicMismatch,
    segment_check_topic,
    segment_count,
    segment_rules_clean,
    segment_save,
)
from ..models import Contact, Segment, Topic
from ..models.choices import SegmentField, SegmentMatch, SegmentOperator
from .exports import SegmentSubscribersExportMixin

# How many recent contacts the builder reads to suggest attribute names (a sample, not a scan).
ATTRIBUTE_SAMPLE = 500


class SegmentForm(forms.ModelForm):
    rules = forms.JSONField(
        required=False,
        label=_("Rules"),
        widget=forms.Textarea(attrs={"rows": 6, "class": "segment-rules-json"}),
        help_text=_(
            "Build the conditions above; the count shows how many subscribed contacts match now."
        ),
    )

    class Meta:
        model = Segment
        fields = ["name", "topic", "rules"]

    def clean_rules(self) -> dict:
        try:
            return segment_rules_clean(self.cleaned_data.get("rules"))
        except InvalidSegmentRules as exc:
            raise forms.ValidationError(str(exc), code="invalid_segment") from None

    def clean_topic(self) -> Topic | None:
        topic = self.cleaned_data.get("topic")
        try:
            segment_check_topic(segment=self.instance, topic=topic)
        except SegmentTopicMismatch as exc:
            raise forms.ValidationError(str(exc), code=exc.code) from None
        return topic


def builder_vocabulary() -> dict:
    """What the builder offers: each field's operators with their labels, the languages the
    pages speak, and attribute names seen on recent contacts."""
    labels = dict(SegmentOperator.choices)
    sample = Contact.objects.active().order_by("-pk").values_list("attributes", flat=True)
    names = sorted(
        {
            key
            for attributes in sample[:ATTRIBUTE_SAMPLE]
            if isinstance(attributes, dict)
            for key in attributes
        }
    )
    return {
        "fields": [
            {
                "value": field.value,
                "label": str(field.label),
                "ops": [{"value": op, "label": str(labels[op])} for op in FIELDS[field]],
            }
            for field in SegmentField
        ],
        "attributePrefix": ATTRIBUTE_PREFIX,
        "matches": [{"value": m.value, "label": str(m.label)} for m in SegmentMatch],
        "locales": [code for code, _name in settings.LANGUAGES],
        "attributes": names[:100],
    }


@admin.register(Segment)
class SegmentAdmin(SegmentSubscribersExportMixin, ModelAdmin):
    form = SegmentForm
    change_form_template = "admin/subscriptions/segment/change_form.html"
    list_display = ["name", "topic", "conditions", "campaign_count", "updated_at"]
    list_filter = ["topic"]
    search_fields = ["name"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    fields = ["name", "topic", "rules", *readonly_fields]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(used_by=Count("campaigns"))

    @admin.display(description=_("conditions"))
    def conditions(self, obj: Segment) -> int:
        return sum(len(group["conditions"]) for group in (obj.rules or {}).get("groups", []))

    @admin.display(description=_("campaigns"), ordering="used_by")
    def campaign_count(self, obj: Segment) -> int:
        return obj.used_by

    def save_model(self, request, obj, form, change):
        """Through the segment service, like the API (the rules are stored clean)."""
        if not change:
            obj.created_by = request.user
        segment_save(segment=obj, name=obj.name, topic=obj.topic, rules=obj.rules)

    def render_change_form(self, request, context, *args, **kwargs):
        context["segment_vocabulary"] = builder_vocabulary()
        context["segment_count_url"] = reverse("admin:subscriptions_segment_count")
        return super().render_change_form(request, context, *args, **kwargs)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("count/", view(self.count_view), name="subscriptions_segment_count"),
            *super().get_urls(),
        ]

    def count_view(self, request):
        """`?rules=<JSON>&topic=<id>` → `{"count": n}`, or 400 `{"error": "<rule: why>"}`.
        Reads only: the builder calls it as the marketer edits."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            rules = forms.JSONField().clean(request.GET.get("rules") or "{}")
            topic = _topic(request.GET.get("topic", ""))
            count = segment_count(rules=rules, topic=topic)
        except (InvalidSegmentRules, forms.ValidationError) as exc:
            message = exc.messages[0] if isinstance(exc, forms.ValidationError) else str(exc)
            return JsonResponse({"error": message}, status=400)
        return JsonResponse({"count": count, "topic": topic.name if topic else None})


def _topic(raw: str) -> Topic | None:
    if not raw:
        return None
    topic = Topic.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 10 else None
    if topic is None:
        raise forms.ValidationError(_("There is no such topic."))
    return topic
