"""Campaign admin: preview as a contact, test send, schedule/unschedule, send/pause/resume/cancel,
live progress. Saving "Scheduled at" schedules the campaign through the one scheduling service
(campaigns.lifecycle.campaign_schedule), as the API does; clearing it takes it back to draft."""

from __future__ import annotations

from csp.decorators import csp_replace
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, StackedInline

from ..campaigns.lifecycle import (
    CampaignStateError,
    InvalidSchedule,
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_schedule,
    campaign_start,
    campaign_unschedule,
)
from ..campaigns.messages import CampaignRenderError, FromNotAllowed, InvalidCampaignTemplate
from ..campaigns.stats import campaign_stats, send_rate
from ..campaigns.test_sends import (
    InvalidTestSend,
    MailUnavailable,
    campaign_preview,
    campaign_test_send,
)
from ..forms.campaign import (
    CampaignForm,
    CampaignTranslationForm,
    CampaignTranslationFormSet,
    EditorMediaAdminMixin,
)
from ..models import Campaign, CampaignTestSend, CampaignTranslation, Contact
from ..models.choices import CampaignStatus
from .base import ReadOnlyAdminMixin


def schedule_text(campaign: Campaign) -> str:
    """The schedule as staff read it: the time in the admin's time zone, and that zone's name."""
    if campaign.scheduled_at is None:
        return "—"
    local = timezone.localtime(campaign.scheduled_at)
    return f"{local:%Y-%m-%d %H:%M} {timezone.get_current_timezone_name()}"


def _preview_contact(request, campaign: Campaign) -> tuple[Contact | None, str]:
    """The contact named in ?contact= (id or email), else a sample subscriber, else None (a
    stand-in). The second value says why a named contact was not found (never silently)."""
    wanted = (request.GET.get("contact") or request.POST.get("contact") or "").strip()
    if wanted.isdigit():
        found = Contact.objects.active().filter(pk=int(wanted)).first()
    elif wanted:
        found = Contact.objects.by_email(wanted).first()
    else:
        return Contact.objects.marketable(campaign.topic).first(), ""
    if found is None:
        return None, f"No contact {wanted[:100]!r}: showing a stand-in with no merge data."
    return found, ""


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
    list_display = ["name", "topic", "status", "schedule", "started_at", "links"]
    list_filter = ["status", "topic"]
    search_fields = ["name", "subject"]
    readonly_fields = ["status", "schedule", "started_at", "finished_at", "created_by", "sent_by"]
    fields = [
        "name",
        "topic",
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

    @admin.display(description=_("tools"))
    def links(self, obj: Campaign) -> str:
        return format_html(
            '<a href="{}">preview</a> · <a href="{}">progress</a>',
            reverse("admin:subscriptions_campaign_preview", args=[obj.pk]),
            reverse("admin:subscriptions_campaign_progress", args=[obj.pk]),
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
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/preview/", view(self.preview_view), name="subscriptions_campaign_preview"
            ),
            path(
                "<int:pk>/progress/",
                view(self.progress_view),
                name="subscriptions_campaign_progress",
            ),
            *super().get_urls(),
        ]

    # The email's own HTML shows in a script-less sandboxed iframe with its inline styles.
    @csp_replace(settings.CSP_EMAIL_PREVIEW)
    def preview_view(self, request, pk: int):
        """The campaign as a contact would see it, with inert test links (rule 9); a template
        that breaks shows its error here. POST sends a test (change permission)."""
        campaign = get_object_or_404(Campaign.objects.select_related("topic"), pk=pk)
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        contact, notice = _preview_contact(request, campaign)
        if request.method == "POST":
            if not self.has_change_permission(request, campaign):
                raise PermissionDenied
            return self._test_send(request, campaign, contact)
        message, error = None, ""
        try:
            message = campaign_preview(campaign=campaign, contact=contact).as_email()
        except (InvalidCampaignTemplate, CampaignRenderError) as exc:
            error = str(exc)
        html = ""
        if message is not None:
            html = next((c for c, mime in message.alternatives if mime == "text/html"), "")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Preview: {campaign}",
            "campaign": campaign,
            "contact": contact,
            "notice": notice,
            "message": message,
            "html": html,
            "error": error,
            "test_sends": campaign.test_sends.all()[:10],
        }
        return TemplateResponse(request, "admin/subscriptions/campaign/preview.html", context)

    def _test_send(self, request, campaign: Campaign, contact: Contact | None):
        raw = request.POST.get("addresses", "")
        addresses = [a.strip() for a in raw.replace(";", ",").split(",") if a.strip()]
        try:
            result = campaign_test_send(
                campaign=campaign,
                recipients=addresses,
                by=f"admin:{request.user.get_username()}",
                user=request.user,
                as_contact=contact,
            )
        except (
            InvalidTestSend,
            InvalidCampaignTemplate,
            FromNotAllowed,
            CampaignRenderError,
            MailUnavailable,  # the log row records the attempt
        ) as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            if result.sent:
                sent = ", ".join(result.sent)
                self.message_user(request, f"Test sent to {sent}.", messages.SUCCESS)
            if result.refused:
                refused = ", ".join(result.refused)
                self.message_user(
                    request, f"Not sent to suppressed addresses: {refused}.", messages.WARNING
                )
        return redirect(request.get_full_path())

    def progress_view(self, request, pk: int):
        campaign = get_object_or_404(Campaign.objects.select_related("topic"), pk=pk)
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        stats = campaign_stats(campaign)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Progress: {campaign}",
            "campaign": campaign,
            "stats": stats,
            "rate": round(send_rate(campaign), 2),
            "refresh": campaign.status in ("sending", "paused", "scheduled"),
        }
        return TemplateResponse(request, "admin/subscriptions/campaign/progress.html", context)


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
