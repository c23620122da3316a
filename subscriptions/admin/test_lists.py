"""Saved lists of test addresses, picked in a campaign's Send test step."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from ..forms.campaign_workflow import TestListForm
from ..models import TestList


@admin.register(TestList)
class TestListAdmin(ModelAdmin):
    form = TestListForm
    list_display = ["name", "address_list", "updated_at"]
    search_fields = ["name"]
    fields = ["name", "addresses"]

    @admin.display(description=_("addresses"))
    def address_list(self, obj: TestList) -> str:
        return ", ".join(obj.addresses)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
