"""The staff console's menus (django-unfold over the admin): the sidebar grouped by task.

settings.UNFOLD points here by dotted path; nothing here runs before the apps are loaded.
"""

from __future__ import annotations

import re

from django.apps import apps
from django.contrib import admin
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

# --- sidebar ------------------------------------------------------------------------------------

# (title, Material Symbols icon, URL names to try in order). An entry whose URL does not reverse
# is left out, as is one the staff member may not open (a Marketer sees no privacy desk).
NAVIGATION: list[tuple[str, list[tuple[str, str, list[str]]]]] = [
    (
        _("Campaigns"),
        [
            (_("Dashboard"), "dashboard", ["admin:index"]),
            (_("Campaigns"), "campaign", ["admin:subscriptions_campaign_changelist"]),
            (_("Segments"), "filter_alt", ["admin:subscriptions_segment_changelist"]),
            (
                _("Test lists"),
                "checklist",
                ["admin:subscriptions_testlist_changelist"],
            ),
            (
                _("Layouts"),
                "dashboard_customize",
                ["admin:subscriptions_emaillayout_changelist"],
            ),
            (_("Reports"), "monitoring", ["admin:subscriptions_campaigncomplaints_changelist"]),
            (_("Sent tests"), "outgoing_mail", ["admin:subscriptions_campaigntestsend_changelist"]),
        ],
    ),
    (
        _("Audience"),
        [
            (_("Contacts"), "person", ["admin:subscriptions_contact_changelist"]),
            (
                _("Subscriptions"),
                "mark_email_read",
                ["admin:subscriptions_subscription_changelist"],
            ),
            (_("Topics"), "topic", ["admin:subscriptions_topic_changelist"]),
            (
                _("Imports"),
                "upload_file",
                ["admin:subscriptions_import_changelist"],
            ),
            (_("Suppressions"), "block", ["admin:subscriptions_suppression_changelist"]),
        ],
    ),
    (
        _("Consent & privacy"),
        [
            (_("Consent history"), "history", ["admin:subscriptions_consentevent_changelist"]),
            (
                _("Privacy requests"),
                "shield_person",
                ["admin:subscriptions_datasubject_changelist"],
            ),
            (_("Policy versions"), "policy", ["admin:subscriptions_policyversion_changelist"]),
            (
                _("Suppression removals"),
                "remove_done",
                ["admin:subscriptions_suppressionremoval_changelist"],
            ),
            (_("Soft bounces"), "unsubscribe", ["admin:subscriptions_softbounce_changelist"]),
        ],
    ),
    (
        _("Settings"),
        [
            (_("API keys"), "key", ["admin:subscriptions_apikey_changelist"]),
            (
                _("Webhooks"),
                "webhook",
                ["admin:subscriptions_webhookendpoint_changelist"],
            ),
            (_("Staff users"), "badge", ["admin:auth_user_changelist"]),
            (_("Roles"), "groups", ["admin:auth_group_changelist"]),
            (_("System emails"), "mail", ["admin:subscriptions_transactionalmessage_changelist"]),
        ],
    ),
]

CHANGELIST = re.compile(r"^admin:(?P<app>[a-z0-9_]+?)_(?P<model>[a-z0-9]+)_changelist$")


def _may_open(request: HttpRequest, url_name: str) -> bool:
    """Whether the signed-in user may open this page: for a model's list, what its ModelAdmin
    says (so a Marketer never sees the privacy desk); any other admin page, every staff user."""
    match = CHANGELIST.match(url_name)
    if not match:
        return True
    try:
        model = apps.get_model(match["app"], match["model"])
    except LookupError:
        return False
    model_admin = admin.site._registry.get(model)
    return model_admin is not None and model_admin.has_view_or_change_permission(request)


def _first_link(request: HttpRequest, url_names: list[str]) -> str | None:
    for url_name in url_names:
        try:
            link = reverse(url_name)
        except NoReverseMatch:
            continue
        return link if _may_open(request, url_name) else None
    return None


def sidebar_navigation(request: HttpRequest) -> list[dict]:
    """unfold's SIDEBAR["navigation"]: the task groups with the pages this user may open."""
    groups = []
    for title, entries in NAVIGATION:
        items = []
        for item_title, icon, url_names in entries:
            link = _first_link(request, url_names)
            if link is not None:
                items.append({"title": item_title, "icon": icon, "link": link})
        if items:
            groups.append({"title": title, "separator": True, "items": items})
    return groups
