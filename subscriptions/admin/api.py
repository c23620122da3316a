"""API keys in the console: create one (its secret shown once, on the page that follows), see
them by prefix, revoke one (recorded who and when). The same service as `manage.py
create_api_key` (api/keys.py) does the work."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin

from ..api.keys import api_key_create, api_key_revoke
from ..forms.api_keys import ApiKeyCreateForm
from ..models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(ModelAdmin):
    list_display = ("name", "prefix_shown", "scope_list", "created_at", "last_used_at", "state")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix")
    readonly_fields = (
        "name",
        "prefix_shown",
        "scope_list",
        "created_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
        "revoke_link",
    )
    fields = readonly_fields
    actions = ("revoke",)

    @admin.display(description=_("key"), ordering="prefix")
    def prefix_shown(self, obj: ApiKey) -> str:
        return f"{obj.prefix}…"

    @admin.display(description=_("scopes"))
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes or []) or "—"

    @admin.display(description=_("state"))
    def state(self, obj: ApiKey) -> str:
        return _("revoked") if obj.is_revoked else _("active")

    @admin.display(description=_("revoke"))
    def revoke_link(self, obj: ApiKey) -> str:
        if obj.is_revoked or obj.pk is None:
            return "—"
        url = reverse("admin:subscriptions_apikey_revoke", args=[obj.pk])
        return format_html(
            '<a class="console-button console-button-danger" href="{}">{}</a>',
            url,
            _("Revoke this key…"),
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        # Revoked, not deleted: the key's name stays behind the "api:<name>" actor in the ledger.
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:key_id>/revoke/", view(self.revoke_view), name="subscriptions_apikey_revoke"
            ),
            *super().get_urls(),
        ]

    # --- create: the secret is shown on the answer to the POST, and nowhere ever again --------

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ApiKeyCreateForm(request.POST or None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("New API key"),
            "form": form,
        }
        if request.method == "POST" and form.is_valid():
            key, secret = api_key_create(
                name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"]
            )
            self.log_addition(request, key, [{"added": {}}])
            context.update(title=_("Copy your new API key"), key=key, secret=secret)
            response = TemplateResponse(request, "admin/subscriptions/apikey/created.html", context)
            # Nothing may keep a copy of the page that holds the secret.
            response["Cache-Control"] = "no-store"
            return response
        return TemplateResponse(request, "admin/subscriptions/apikey/add.html", context)

    # --- revoke ------------------------------------------------------------------------------

    def revoke_view(self, request: HttpRequest, key_id: int) -> HttpResponse:
        """GET asks for confirmation; POST revokes, recorded as the signed-in staff user."""
        key = get_object_or_404(ApiKey, pk=key_id)
        if not self.has_change_permission(request, key):
            raise PermissionDenied
        change_url = reverse("admin:subscriptions_apikey_change", args=[key.pk])
        if request.method == "POST":
            if api_key_revoke(key=key, by=request.user):
                self.log_change(request, key, [{"changed": {"fields": ["revoked_at"]}}])
                self.message_user(
                    request,
                    _("The key %(name)s is revoked: calls with it now answer 401.")
                    % {"name": key.name},
                    messages.SUCCESS,
                )
            else:
                self.message_user(request, _("That key was already revoked."), messages.INFO)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Revoke the API key %(name)s?") % {"name": key.name},
            "key": key,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/subscriptions/apikey/revoke.html", context)

    @admin.action(description=_("Revoke the selected API keys"), permissions=["change"])
    def revoke(self, request, queryset) -> None:
        revoked = sum(api_key_revoke(key=key, by=request.user) for key in queryset)
        self.message_user(
            request,
            ngettext("%d key revoked.", "%d keys revoked.", revoked) % revoked,
            messages.SUCCESS,
        )
