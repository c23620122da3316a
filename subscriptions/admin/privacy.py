"""Admin for privacy: export / erase a data subject, publish privacy-policy versions."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from ..models import DataSubject, PolicyVersion
from ..privacy.erasure import contact_erase
from ..privacy.export import contact_export
from ..privacy.policy import PolicyNoticeTooShort, policy_check_notice_period, policy_publish
from ..privacy.rights import ContactAlreadyErased
from .base import ReadOnlyAdminMixin, staff_actor


@admin.action(description=_("Export the selected contacts' data (JSON)"))
def export_data(modeladmin, request, queryset):
    exports = []
    for contact in queryset.active():
        exports.append(contact_export(contact=contact, by=staff_actor(request)))
    if not exports:
        modeladmin.message_user(request, _("Erased contacts have no data left to export."))
        return None
    body = exports[0] if len(exports) == 1 else {"contacts": exports}
    response = HttpResponse(
        json.dumps(body, indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = 'attachment; filename="contact-export.json"'
    return response


@admin.action(description=_("Erase the selected contacts (cannot be undone)"))
def erase_data(modeladmin, request, queryset):
    if request.POST.get("confirm") != "yes":
        return TemplateResponse(
            request,
            "admin/subscriptions/privacy_erase_confirm.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": _("Erase contacts"),
                "contacts": queryset,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "opts": modeladmin.model._meta,
            },
        )
    erased = 0
    for contact in queryset:
        try:
            contact_erase(contact=contact, by=staff_actor(request))
        except ContactAlreadyErased:
            continue
        erased += 1
    modeladmin.message_user(
        request, _("%(n)d contact(s) erased.") % {"n": erased}, messages.SUCCESS
    )
    return None


@admin.register(DataSubject)
class DataSubjectAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Erasure, never deletion: the ledger must keep pointing at the row. The export and erase
    actions are the only changes made here."""

    list_display = ("__str__", "external_id", "created_at", "erased_at")
    list_filter = (("erased_at", admin.EmptyFieldListFilter),)
    search_fields = ("email_key", "external_id")
    actions = [export_data, erase_data]
    readonly_fields = ("email", "external_id", "locale", "country", "created_at", "erased_at")
    fields = readonly_fields

    def get_search_results(self, request, queryset, search_term):
        # Addresses are matched case-insensitively through email_key.
        return super().get_search_results(request, queryset, search_term.strip().lower())


class PolicyVersionForm(forms.ModelForm):
    class Meta:
        model = PolicyVersion
        fields = ("version", "effective_at", "is_material", "summary")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("effective_at"):
            try:
                policy_check_notice_period(
                    effective_at=cleaned["effective_at"],
                    is_material=bool(cleaned.get("is_material")),
                )
            except PolicyNoticeTooShort as problem:
                raise forms.ValidationError(str(problem)) from problem
        return cleaned


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ModelAdmin):
    form = PolicyVersionForm
    list_display = ("version", "effective_at", "is_material", "notices_sent", "notices_finished_at")
    readonly_fields = ("notices_sent", "notices_finished_at", "created_at")

    def has_change_permission(self, request, obj=None):
        return obj is None  # a published version is a fact; publish a new one instead

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        published = policy_publish(
            version=obj.version,
            effective_at=obj.effective_at,
            is_material=obj.is_material,
            summary=obj.summary,
        )
        obj.pk = published.pk
