from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin

from ..api.keys import api_key_revoke
from ..models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(ModelAdmin):
    """Keys are created with `manage.py create_api_key` (the secret is shown only there)."""

    list_display = ("name", "prefix", "scope_list", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix")
    readonly_fields = ("name", "prefix", "scope_list", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    @admin.display(description=_("scopes"))
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes or []) or "—"

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Revoked, not deleted: the key's name stays behind the "api:<name>" actor in the ledger.
        return False

    @admin.action(description=_("Revoke the selected API keys"), permissions=["change"])
    def revoke(self, request, queryset) -> None:
        revoked = sum(api_key_revoke(key=key) for key in queryset)
        self.message_user(
            request,
            ngettext("%d key revoked.", "%d keys revoked.", revoked) % revoked,
            messages.SUCCESS,
        )
