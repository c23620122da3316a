"""Campaign admin: preview as a contact, test send, send/pause/resume/cancel, live progress."""

from __future__ import annotations

from csp.decorators import csp_replace
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .. import sending
from ..addresses import InvalidAddress, normalize_email
from ..emails import InvalidCampaignTemplate, build_marketing_message, marketing_connection
from ..models import Campaign, Contact


def _preview_contact(request, campaign: Campaign) -> Contact:
    """The contact named in ?contact= (id or email), else a sample subscriber, else a stand-in."""
    wanted = (request.GET.get("contact") or request.POST.get("contact") or "").strip()
    if wanted.isdigit():
        found = Contact.objects.active().filter(pk=int(wanted)).first()
    elif wanted:
        found = Contact.objects.by_email(wanted).first()
    else:
        found = Contact.objects.marketable(campaign.topic).first()
    return found or Contact(email="preview@example.com", attributes={})


def _lifecycle_action(service, done: str):
    def action(modeladmin, request, queryset):
        for campaign in queryset:
            try:
                service(campaign=campaign)
            except (sending.CampaignStateError, InvalidCampaignTemplate) as exc:
                modeladmin.message_user(request, f"{campaign}: {exc}", messages.ERROR)
            else:
                modeladmin.message_user(request, f"{campaign}: {done}.", messages.SUCCESS)

    return action


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
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
            sending.campaign_start(campaign=campaign, user=request.user)

        _lifecycle_action(start, "sending started")(self, request, queryset)

    @admin.action(description=_("Pause sending"))
    def pause(self, request, queryset):
        _lifecycle_action(sending.campaign_pause, "paused")(self, request, queryset)

    @admin.action(description=_("Resume sending"))
    def resume(self, request, queryset):
        _lifecycle_action(sending.campaign_resume, "resumed")(self, request, queryset)

    @admin.action(description=_("Cancel"))
    def cancel(self, request, queryset):
        _lifecycle_action(sending.campaign_cancel, "cancelled")(self, request, queryset)

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
        campaign = get_object_or_404(Campaign.objects.select_related("topic"), pk=pk)
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        contact = _preview_contact(request, campaign)
        if request.method == "POST":
            if not self.has_change_permission(request, campaign):
                raise PermissionDenied
            return self._test_send(request, campaign, contact)
        message, error = None, ""
        try:
            message = build_marketing_message(campaign=campaign, contact=contact)
        except InvalidCampaignTemplate as exc:
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
            "message": message,
            "html": html,
            "error": error,
        }
        return TemplateResponse(request, "admin/subscriptions/campaign/preview.html", context)

    def _test_send(self, request, campaign: Campaign, contact: Contact):
        raw = request.POST.get("addresses", "")
        try:
            addresses = [normalize_email(a) for a in raw.replace(";", ",").split(",") if a.strip()]
        except InvalidAddress as exc:
            self.message_user(request, f"Not an address: {exc}", messages.ERROR)
            return redirect(request.get_full_path())
        if not addresses or len(addresses) > 20:
            self.message_user(request, "Give between 1 and 20 addresses.", messages.ERROR)
            return redirect(request.get_full_path())
        try:
            with marketing_connection() as connection:
                for address in addresses:
                    message = build_marketing_message(
                        campaign=campaign, contact=contact, to=address, connection=connection
                    )
                    message.subject = f"[TEST] {message.subject}"
                    message.send()
        except InvalidCampaignTemplate as exc:
            self.message_user(request, str(exc), messages.ERROR)
        except Exception as exc:
            self.message_user(request, f"The test send failed: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"Test sent to {', '.join(addresses)}.", messages.SUCCESS)
        return redirect(request.get_full_path())

    def progress_view(self, request, pk: int):
        campaign = get_object_or_404(Campaign.objects.select_related("topic"), pk=pk)
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        stats = sending.campaign_stats(campaign)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Progress: {campaign}",
            "campaign": campaign,
            "stats": stats,
            "rate": round(sending.send_rate(campaign), 2),
            "refresh": campaign.status in ("sending", "paused", "scheduled"),
        }
        return TemplateResponse(request, "admin/subscriptions/campaign/progress.html", context)
