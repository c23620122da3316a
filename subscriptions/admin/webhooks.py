"""Webhook endpoints in the staff console: add one (its secret shown once), see its delivery
log, re-enable a disabled one, delete one."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin

from ..forms.webhooks import WebhookEndpointForm
from ..integrations.endpoints import (
    delivery_log_figures,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_enable,
)
from ..models import WebhookEndpoint

RECENT_DELIVERIES = 20
LOG_FIELDS = (
    "is_active",
    "failing_since",
    "disabled_at",
    "disabled_reason",
    "log_summary",
    "last_answer",
    "next_retry",
    "recent_deliveries",
    "created_by",
    "created_at",
)


def _log(endpoint: WebhookEndpoint) -> dict:
    # Several columns of one row show figures of the same log: read it once per row.
    if not hasattr(endpoint, "_delivery_log"):
        endpoint._delivery_log = delivery_log_figures(endpoint)
    return endpoint._delivery_log


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "event_list", "is_active", "log_summary", "last_answer", "next_retry")
    list_filter = ("is_active",)
    search_fields = ("url",)
    actions = ("enable",)

    def get_fields(self, request, obj=None):
        return ("url", "events") if obj is None else ("url", "event_list", *LOG_FIELDS)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("url", "event_list", *LOG_FIELDS)

    def has_change_permission(self, request, obj=None) -> bool:
        # Viewable; an endpoint changes only by the re-enable action (or delete and add anew).
        return obj is None and super().has_change_permission(request)

    def save_model(self, request, obj, form, change) -> None:
        endpoint = webhook_endpoint_create(
            url=form.cleaned_data["url"],
            events=form.cleaned_data["events"],
            created_by=request.user.get_username(),
        )
        obj.pk = endpoint.pk
        self.message_user(
            request,
            format_html(
                "{} <code>{}</code>",
                _("The endpoint's signing secret, shown only now — copy it to the receiver:"),
                endpoint.secret,
            ),
            messages.WARNING,
        )

    def delete_model(self, request, obj) -> None:
        webhook_endpoint_delete(endpoint=obj)

    def delete_queryset(self, request, queryset) -> None:
        for endpoint in queryset:
            webhook_endpoint_delete(endpoint=endpoint)

    @admin.action(description=_("Re-enable the selected endpoints"), permissions=["view"])
    def enable(self, request, queryset) -> None:
        enabled = sum(webhook_endpoint_enable(endpoint=endpoint) for endpoint in queryset)
        self.message_user(
            request,
            ngettext("%d endpoint re-enabled.", "%d endpoints re-enabled.", enabled) % enabled,
            messages.SUCCESS,
        )

    @admin.display(description=_("events"))
    def event_list(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events or []) or "—"

    @admin.display(description=_("deliveries"))
    def log_summary(self, obj: WebhookEndpoint) -> str:
        log = _log(obj)
        return _("%(delivered)s delivered, %(open)s on their way, %(gave_up)s given up") % {
            "delivered": log["delivered"],
            "open": log["pending"] + log["failed"],
            "gave_up": log["gave_up"],
        }

    @admin.display(description=_("last answer"))
    def last_answer(self, obj: WebhookEndpoint) -> str:
        log = _log(obj)
        if log["last_attempt_at"] is None:
            return "—"
        status = log["last_status_code"] or _("no answer")
        return f"{status} {log['last_error']}".strip()

    @admin.display(description=_("next retry"))
    def next_retry(self, obj: WebhookEndpoint):
        return _log(obj)["next_attempt_at"] or "—"

    @admin.display(description=_("recent deliveries"))
    def recent_deliveries(self, obj: WebhookEndpoint) -> str:
        recent = obj.deliveries.select_related("event").order_by("-id")[:RECENT_DELIVERIES]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    d.event.type,
                    d.event.uid,
                    d.get_status_display(),
                    d.attempts,
                    d.last_status_code or "—",
                    d.last_error or "",
                    d.next_attempt_at if d.status in ("pending", "failed") else "—",
                )
                for d in recent
            ),
        )
        if not rows:
            return "—"
        labels = (
            _("event"),
            _("id"),
            _("status"),
            _("attempts"),
            _("last status"),
            _("last error"),
            _("next retry"),
        )
        head = format_html_join("", "<th>{}</th>", ((label,) for label in labels))
        return format_html(
            '<table class="w-full text-sm"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
            head,
            rows,
        )
