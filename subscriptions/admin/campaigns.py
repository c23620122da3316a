"""Campaign admin. The campaign page is the workflow: a step bar and the buttons of its status
(Preview, Send test, Review & send, Pause, Resume, Cancel, Duplicate), whose views live in
admin/campaign_workflow.py and admin/campaign_report.py. A campaign that started is read-only.
Saving "Scheduled at" schedules the campaign through the one scheduling service
(campaigns.lifecycle.campaign_schedule), as the API and the Review step do; clearing it takes it
back to draft."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, StackedInline

from ..campaigns.lifecycle import (
    STARTABLE,
    CampaignStateError,
    InvalidSchedule,
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_schedule,
    campaign_start,
    campaign_unschedule,
)
from ..campaigns.messages import FromNotAllowed, InvalidCampaignTemplate
from ..forms.campaign import (
    CampaignForm,
    CampaignTranslationForm,
    CampaignTranslationFormSet,
    EditorMediaAdminMixin,
)
from ..models import Campaign, CampaignTestSend, CampaignTranslation
from ..models.choices import CampaignStatus
from .base import ReadOnlyAdminMixin
from .campaign_report import CampaignReport
from .campaign_workflow import CampaignWorkflow, schedule_text, workflow_context


def _lifecycle_action(service, done: str):
    def action(modeladmin, request, queryset):
        for campaign in queryset:
            try:
                service(campaign=campaign)
            except (
                CampaignStateError,
                InvalidCampaignTemplate,
                FromNotAllowed,
                InvalidSchedule,
            ) as exc:
                modeladmin.message_user(request, f"{campaign}: {exc}", messages.ERROR)
            else:
                modeladmin.message_user(request, f"{campaign}: {done}.", messages.SUCCESS)

    return action


class CampaignTranslationInline(StackedInline):
    """Subject and body in more languages: each contact gets their language's, else the default."""

    model = CampaignTranslation
    form = CampaignTranslationForm
    formset = CampaignTranslationFormSet
    extra = 0
    tab = True


@admin.register(Campaign)
class CampaignAdmin(EditorMediaAdminMixin, ModelAdmin):
    form = CampaignForm
    inlines = [CampaignTranslationInline]
    change_form_template = "admin/subscriptions/campaign/change_form.html"
    list_display = ["name", "topic", "status", "schedule", "started_at", "links"]
    list_filter = ["status", "topic"]
    search_fields = ["name", "subject"]
    readonly_fields = ["status", "schedule", "started_at", "finished_at", "created_by", "sent_by"]
    fields = [
        "name",
        "topic",
        "segment",
        "layout",
        "subject",
        "from_email",
        "body_format",
        ("body_source", "merge_fields"),
        "text_body",
        "scheduled_at",
        *readonly_fields,
    ]
    actions = ["send", "schedule_saved", "unschedule", "pause", "resume", "cancel"]

    @admin.display(description=_("scheduled for"), ordering="scheduled_at")
    def schedule(self, obj: Campaign) -> str:
        if obj.status != CampaignStatus.SCHEDULED:
            # A draft's leftover time is not a schedule: it would not start at it.
            return "—" if obj.scheduled_at is None else f"({schedule_text(obj)}, not scheduled)"
        return schedule_text(obj)

    @admin.display(description=_("next step"))
    def links(self, obj: Campaign) -> str:
        if obj.status in STARTABLE:
            return format_html(
                '<a href="{}">Review &amp; send</a>',
                reverse("admin:subscriptions_campaign_review", args=[obj.pk]),
            )
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:subscriptions_campaign_progress", args=[obj.pk]),
            _("Report") if obj.status in ("sent", "cancelled") else _("Progress"),
        )

    def save_model(self, request, obj, form, change):
        """Save the content, then move the schedule through the scheduling service: the form
        never writes `scheduled_at` or the status itself (one rule, in lifecycle)."""
        if not change:
            obj.created_by = request.user
        if "scheduled_at" not in form.changed_data:
            super().save_model(request, obj, form, change)
            return
        wanted = obj.scheduled_at
        obj.scheduled_at = form.initial.get("scheduled_at") if change else None
        super().save_model(request, obj, form, change)
        try:
            if wanted is not None:
                campaign_schedule(campaign=obj, at=wanted)
            elif obj.status == CampaignStatus.SCHEDULED:
                campaign_unschedule(campaign=obj)
        except (
            CampaignStateError,
            InvalidSchedule,
            InvalidCampaignTemplate,
            FromNotAllowed,
        ) as exc:
            # The form checked all this; only a race (a sweep starting it) ends up here.
            self.message_user(request, f"{obj}: not scheduled: {exc}", messages.ERROR)
        else:
            if wanted is not None:
                self.message_user(
                    request, f"{obj}: scheduled for {schedule_text(obj)}.", messages.SUCCESS
                )

    @admin.action(description=_("Schedule at their saved time"))
    def schedule_saved(self, request, queryset):
        """Drafts saved with a time before saving scheduled them: schedule them at it."""

        def schedule(*, campaign):
            if campaign.scheduled_at is None:
                raise InvalidSchedule("No time saved: set Scheduled at on the campaign.")
            campaign_schedule(campaign=campaign, at=campaign.scheduled_at)

        _lifecycle_action(schedule, "scheduled")(self, request, queryset)

    @admin.action(description=_("Unschedule (back to draft)"))
    def unschedule(self, request, queryset):
        _lifecycle_action(campaign_unschedule, "back to draft")(self, request, queryset)

    @admin.action(description=_("Send the selected campaigns now"))
    def send(self, request, queryset):
        def start(*, campaign):
            campaign_start(campaign=campaign, user=request.user)

        _lifecycle_action(start, "sending started")(self, request, queryset)

    @admin.action(description=_("Pause sending"))
    def pause(self, request, queryset):
        _lifecycle_action(campaign_pause, "paused")(self, request, queryset)

    @admin.action(description=_("Resume sending"))
    def resume(self, request, queryset):
        _lifecycle_action(campaign_resume, "resumed")(self, request, queryset)

    @admin.action(description=_("Cancel"))
    def cancel(self, request, queryset):
        _lifecycle_action(campaign_cancel, "cancelled")(self, request, queryset)

    def get_urls(self):
        return [
            *CampaignWorkflow(self).urls(),
            *CampaignReport(self).urls(),
            *super().get_urls(),
        ]

    def may_act(self, request) -> bool:
        """May this user act on campaigns (send, test, schedule, pause...)? The model's change
        permission, whatever the campaign's status (has_change_permission is about editing)."""
        return super().has_change_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        """A campaign that started is read-only: its content is what was sent."""
        if obj is not None and obj.status not in STARTABLE:
            return False
        return super().has_change_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        campaign = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if campaign is not None:
            extra.update(workflow_context(campaign, "edit"), may_act=self.may_act(request))
        return super().change_view(request, object_id, form_url, extra)


@admin.register(CampaignTestSend)
class CampaignTestSendAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """The log of test sends: read-only, never added, changed or deleted by hand."""

    list_display = ["campaign", "requested_by", "created_at", "recipient_list", "refused_list"]
    list_filter = ["campaign"]
    search_fields = ["requested_by", "campaign__name"]
    readonly_fields = [
        "campaign",
        "requested_by",
        "sent_by",
        "rendered_as",
        "recipients",
        "refused",
        "created_at",
    ]
    fields = readonly_fields

    @admin.display(description=_("sent to"))
    def recipient_list(self, obj: CampaignTestSend) -> str:
        return ", ".join(obj.recipients)

    @admin.display(description=_("refused (suppressed)"))
    def refused_list(self, obj: CampaignTestSend) -> str:
        return ", ".join(obj.refused)
