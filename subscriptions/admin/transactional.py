"""Admin for transactional mail: read-only, with link tokens hidden."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from prefcenter.log_redaction import redact_link_secrets

from ..models import TransactionalMessage
from .base import ReadOnlyAdminMixin


@admin.register(TransactionalMessage)
class TransactionalMessageAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """System mail as staff may see it: the bodies carry the person's confirmation, privacy
    and preference links, so they are shown with every link token redacted; otherwise anyone
    with the view permission could confirm a double opt-in (lifting an unsubscribe-all) or
    download a person's data in their place."""

    list_display = ["created_at", "kind", "to_email", "subject", "status", "sent_at"]
    list_filter = ["status", "kind", "created_at"]
    search_fields = ["to_email", "subject"]
    date_hierarchy = "created_at"
    fields = [
        "kind",
        "to_email",
        "subject",
        "text_without_links",
        "status",
        "error",
        "esp_message_id",
        "created_at",
        "sent_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("text (link tokens hidden)"))
    def text_without_links(self, obj: TransactionalMessage) -> str:
        return redact_link_secrets(obj.text_body)
