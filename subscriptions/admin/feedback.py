"""Admin for ESP feedback: suppressions (search, add, bulk add, remove with a reason) and
complaint rates per campaign and per day. (Contact imports have their own pages: admin/imports.py.)"""

from __future__ import annotations

import io

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from ..addresses import InvalidAddress, address_hash
from ..consent.suppression import suppression_add
from ..consent.suppression_lists import suppression_add_many, suppression_remove
from ..feedback.reports import ComplaintRate, complaint_rates_by_day
from ..models import (
    CampaignComplaints,
    SoftBounce,
    Suppression,
    SuppressionRemoval,
)
from ..models.choices import (
    DeliveryStatus,
    SuppressionReason,
    SuppressionScope,
)
from .base import ReadOnlyAdminMixin, staff_actor

# --- suppressions ----------------------------------------------------------------------------


class SuppressionAddForm(forms.ModelForm):
    email = forms.CharField(label=_("Email address"), max_length=254)
    scope = forms.ChoiceField(
        choices=[("", _("By reason (bounces block all mail)")), *SuppressionScope.choices],
        required=False,
    )

    class Meta:
        model = Suppression
        fields = ["email", "reason", "scope", "note"]

    def clean_email(self):
        try:
            address_hash(self.cleaned_data["email"])
        except InvalidAddress as error:
            raise forms.ValidationError(str(error)) from None
        return self.cleaned_data["email"]


class BulkAddForm(forms.Form):
    file = forms.FileField(label=_("List of addresses (CSV or text, one or more per line)"))
    reason = forms.ChoiceField(choices=SuppressionReason.choices, initial=SuppressionReason.MANUAL)
    scope = forms.ChoiceField(
        choices=[("", _("By reason")), *SuppressionScope.choices], required=False
    )
    note = forms.CharField(required=False)


class RemoveForm(forms.Form):
    why = forms.CharField(label=_("Why are these suppressions removed?"), widget=forms.Textarea)


@admin.register(Suppression)
class SuppressionAdmin(ModelAdmin):
    list_display = ["short_hash", "reason", "scope", "source", "campaign", "created_at"]
    list_select_related = ["campaign"]
    list_filter = ["reason", "scope", "source"]
    search_fields = ["address_hash"]
    search_help_text = _("Enter a full email address (matched by its hash) or a hash prefix.")
    actions = ["remove_with_reason"]
    change_list_template = "admin/subscriptions/suppression/change_list.html"

    @admin.display(description=_("address hash"))
    def short_hash(self, obj):
        return f"{obj.address_hash[:16]}…"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if "@" in term:
            try:
                # Every version of the address's canonical form (rows are never re-hashed).
                return queryset.for_address(term), False
            except InvalidAddress:
                return queryset.none(), False
        if term:
            return queryset.filter(address_hash__startswith=term.lower()), False
        return queryset, False

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = SuppressionAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["email", "reason", "scope", "note"]
        return ["address_hash", "reason", "scope", "source", "note", "campaign", "created_by"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None else []

    def save_form(self, request, form, change):
        if change:
            raise PermissionDenied
        data = form.cleaned_data
        note = data.get("note", "")
        suppression, _created = suppression_add(
            email=data["email"],
            reason=data["reason"],
            scope=data["scope"] or None,
            by=staff_actor(request, evidence=note),
            note=note,
        )
        return suppression

    def save_model(self, request, obj, form, change):
        pass  # saved by the service in save_form

    def save_related(self, request, form, formsets, change):
        pass  # a suppression has no related objects to save

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # removal needs a reason: the "remove" action

    def get_urls(self):
        return [
            path(
                "bulk-add/",
                self.admin_site.admin_view(self.bulk_add_view),
                name="subscriptions_suppression_bulk_add",
            ),
            *super().get_urls(),
        ]

    def bulk_add_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = BulkAddForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            text = io.TextIOWrapper(data["file"].file, encoding="utf-8", errors="replace")
            result = suppression_add_many(
                lines=text,
                reason=data["reason"],
                scope=data["scope"] or None,
                by=staff_actor(request, evidence=data["note"]),
                note=data["note"],
            )
            messages.success(
                request,
                _("%(added)d added, %(already)d already suppressed, %(invalid)d invalid.")
                % {
                    "added": result.added,
                    "already": result.already,
                    "invalid": len(result.invalid),
                },
            )
            for line, token in result.invalid[:50]:
                messages.warning(
                    request,
                    _("Line %(line)d: %(token)r is not an address.")
                    % {"line": line, "token": token},
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": _("Add a list of suppressions"),
        }
        return render(request, "admin/subscriptions/suppression/bulk_add.html", context)

    @admin.action(description=_("Remove selected suppressions (asks for a reason)"))
    def remove_with_reason(self, request, queryset):
        form = RemoveForm(request.POST if "why" in request.POST else None)
        if form.is_valid():
            count = 0
            for suppression in queryset:
                why = form.cleaned_data["why"]
                suppression_remove(
                    suppression=suppression, why=why, by=staff_actor(request, evidence=why)
                )
                count += 1
            self.message_user(request, _("%(n)d suppressions removed.") % {"n": count})
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "queryset": queryset,
            "action": "remove_with_reason",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "title": _("Remove suppressions"),
        }
        return render(request, "admin/subscriptions/suppression/remove.html", context)


@admin.register(SuppressionRemoval)
class SuppressionRemovalAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["address_hash", "reasons", "why", "removed_by", "removed_at"]
    readonly_fields = ["address_hash", "reasons", "why", "removed_by", "removed_at"]


@admin.register(SoftBounce)
class SoftBounceAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["address_hash", "esp", "description", "occurred_at"]
    readonly_fields = ["address_hash", "esp", "description", "occurred_at"]


# --- complaint rates -------------------------------------------------------------------------


@admin.register(CampaignComplaints)
class CampaignComplaintsAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["name", "status", "sent", "complaints", "rate", "bounced", "opened"]
    change_list_template = "admin/subscriptions/campaigncomplaints/change_list.html"

    def get_queryset(self, request):
        # One query for the whole page rather than several per campaign.
        deliveries = "deliveries"
        return (
            super()
            .get_queryset(request)
            .annotate(
                sent_count=Count(deliveries, filter=Q(deliveries__status=DeliveryStatus.SENT)),
                complaint_count=Count(
                    deliveries, filter=Q(deliveries__complained_at__isnull=False)
                ),
                bounce_count=Count(deliveries, filter=Q(deliveries__bounced_at__isnull=False)),
                open_count=Count(deliveries, filter=Q(deliveries__opened_at__isnull=False)),
            )
        )

    @admin.display(description=_("sent"), ordering="sent_count")
    def sent(self, obj):
        return obj.sent_count

    @admin.display(description=_("complaints"), ordering="complaint_count")
    def complaints(self, obj):
        return obj.complaint_count

    @admin.display(description=_("complaint rate"))
    def rate(self, obj):
        rate = ComplaintRate(sent=obj.sent_count, complained=obj.complaint_count)
        marks = {
            "warn": _(" ⚠ at or above %(pct)s") % {"pct": f"{settings.COMPLAINT_RATE_WARN:.1%}"},
            "pause": _(" ⛔ above %(pct)s: paused")
            % {"pct": f"{settings.COMPLAINT_RATE_PAUSE:.1%}"},
        }
        return f"{rate.percent}{marks.get(rate.level, '')}"

    @admin.display(description=_("bounced"), ordering="bounce_count")
    def bounced(self, obj):
        return obj.bounce_count

    @admin.display(description=_("opened"), ordering="open_count")
    def opened(self, obj):
        return obj.open_count

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "daily_rates": complaint_rates_by_day(days=30)}
        return super().changelist_view(request, extra_context)
