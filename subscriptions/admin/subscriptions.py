"""Admin for subscriptions and the consent ledger: both read-only lists. The subscription
actions change consent only through the consent services, as the staff user."""

from __future__ import annotations

import datetime

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from ..consent.ledger import Actor
from ..consent.subscriptions import (
    subscription_pause,
    subscription_resume,
    subscription_unsubscribe,
)
from ..models import ConsentEvent, Subscription
from .base import AddressSearchMixin, ReadOnlyAdminMixin, staff_actor


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdminMixin, AddressSearchMixin, ModelAdmin):
    """Subscriptions are listed here; the actions change them through the consent services."""

    list_display = [
        "contact",
        "topic",
        "status",
        "legal_basis",
        "frequency",
        "paused_until",
        "updated_at",
    ]
    list_filter = ["status", "topic", "legal_basis", "frequency", "updated_at"]
    list_select_related = ["contact", "topic"]
    search_fields = ["=contact__external_id"]
    address_key_field = "contact__email_key"
    search_help_text = _("A contact's email address (or part of one), or an exact external id.")
    actions = ["unsubscribe_selected", "pause_selected", "resume_selected"]
    show_full_result_count = False

    def _require_change(self, request: HttpRequest) -> Actor:
        if not request.user.has_perm("subscriptions.change_subscription"):
            raise PermissionDenied
        return staff_actor(request)

    @admin.action(description=_("Unsubscribe the selected subscriptions"))
    def unsubscribe_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        by = self._require_change(request)
        changed = sum(
            subscription_unsubscribe(contact=s.contact, topic=s.topic, by=by)
            for s in queryset.filter(contact__erased_at__isnull=True)
        )
        self.message_user(request, _("%(n)d subscriptions unsubscribed.") % {"n": changed})

    @admin.action(description=_("Pause the selected subscriptions for 30 days"))
    def pause_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        by = self._require_change(request)
        until = timezone.now() + datetime.timedelta(days=30)
        changed = sum(
            subscription_pause(contact=s.contact, topic=s.topic, until=until, by=by)
            for s in queryset.filter(contact__erased_at__isnull=True)
        )
        self.message_user(request, _("%(n)d subscriptions paused for 30 days.") % {"n": changed})

    @admin.action(description=_("Resume the selected subscriptions"))
    def resume_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        by = self._require_change(request)
        changed = sum(
            subscription_resume(contact=s.contact, topic=s.topic, by=by)
            for s in queryset.filter(contact__erased_at__isnull=True)
        )
        self.message_user(request, _("%(n)d subscriptions resumed.") % {"n": changed})


# --- the ledger ----------------------------------------------------------------------------


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdminMixin, AddressSearchMixin, ModelAdmin):
    list_display = [
        "created_at",
        "contact",
        "topic",
        "action",
        "old_status",
        "new_status",
        "source",
        "actor",
    ]
    list_filter = ["action", "source", "topic", "created_at"]
    list_select_related = ["contact", "topic"]
    date_hierarchy = "created_at"
    search_fields = ["=actor"]
    address_key_field = "contact__email_key"
    show_full_result_count = False
    search_help_text = _("A contact's email address (or part of one), or an exact actor.")
    ordering = ["-created_at", "-id"]
