"""Campaign admin: preview as a contact, test send, send/pause/resume/cancel, live progress."""

from __future__ import annotations

from csp.decorators import csp_replace
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..campaigns.lifecycle import (
    CampaignStateError,
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_start,
    campaign_validate,
)
from ..campaigns.messages import CampaignRenderError, FromNotAllowed, InvalidCampaignTemplate
from ..campaigns.stats import campaign_stats, send_rate
from ..campaigns.test_sends import (
    InvalidTestSend,
    MailUnavailable,
    campaign_preview,
    campaign_test_send,
)
from ..models import Campaign, CampaignTestSend, Contact
from .base import ReadOnlyAdminMixin


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


class CampaignForm(forms.ModelForm):
    """Refuses what the sending service would refuse: a template that does not compile in
    the sandbox (subject included), or a From address outside ALLOWED_FROM_EMAILS."""

    class Meta:
        model = Campaign
        fields = ["name", "topic", "subject", "from_email", "html_body", "text_body"]

    def clean(self):
        cleaned = super().clean()
        topic = cleaned.get("topic")
        if topic is None:
            return cleaned
        draft = Campaign(
            topic=topic,
            subject=cleaned.get("subject") or "",
            html_body=cleaned.get("html_body") or "",
            text_body=cleaned.get("text_body") or "",
            from_email=cleaned.get("from_email") or "",
        )
        try:
            campaign_validate(campaign=draft)
        except InvalidCampaignTemplate as exc:
            raise forms.ValidationError(str(exc), code="invalid_template") from None
        except FromNotAllowed as exc:
            self.add_error("from_email", forms.ValidationError(str(exc), code="from_not_allowed"))
        return cleaned


def _lifecycle_action(service, done: str):
    def action(modeladmin, request, queryset):
        for campaign in queryset:
            try:
                service(campaign=campaign)
            except (CampaignStateError, InvalidCampaignTemplate, FromNotAllowed) as exc:
                modeladmin.message_user(request, f"{campaign}: {exc}", messages.ERROR)
            else:
                modeladmin.message_user(request, f"{campaign}: {done}.", messages.SUCCESS)

    return action


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = ["name", "topic", "status", "scheduled_at", "started_at", "links"]
    list_filter = ["status", "topic"]
    search_fields = ["name", "subject"]
    readonly_fields = ["status", "started_at", "finished_at", "created_by", "sent_by"]
    fields = [
        "name",
        "topic",
        "subject",
        "from_email",
        "html_body",
        "text_body",
        "scheduled_at",
        *readonly_fields,
    ]
    actions = ["send", "pause", "resume", "cancel"]

    @admin.display(description=_("tools"))
    def links(self, obj: Campaign) -> str:
        return format_html(
            '<a href="{}">preview</a> · <a href="{}">progress</a>',
            reverse("admin:subscriptions_campaign_preview", args=[obj.pk]),
            reverse("admin:subscriptions_campaign_progress", args=[obj.pk]),
        )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

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
class CampaignTestSendAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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
