"""The staff roles prefcenter ships: one list of permission codenames per role.

Migration 0024 creates the groups from these lists (a codename whose model does not exist is
skipped). When a model is added, add its codenames here and call `roles_grant` from a data
migration of that change.
"""

from __future__ import annotations

MARKETER = "Marketer"
PRIVACY_OFFICER = "Privacy officer"

# Campaigns, segments, layouts, test lists and reports; topics and contacts to look at. Never
# the privacy desk (DataSubject: export and erasure) nor the consent actions (change_contact).
MARKETER_PERMISSIONS = [
    "view_campaign",
    "add_campaign",
    "change_campaign",
    "view_campaigntestsend",
    "view_campaigncomplaints",
    "view_topic",
    "view_contact",
    "view_subscription",
    "view_segment",
    "add_segment",
    "change_segment",
    "delete_segment",
    "view_emaillayout",
    "add_emaillayout",
    "change_emaillayout",
    "view_testlist",
    "add_testlist",
    "change_testlist",
    "delete_testlist",
    "view_import",
    "add_import",
]

# Consent, suppressions, export and erasure (the DataSubject desk), policy versions, and the
# bulk export of subscribers (personal data: never a Marketer's).
PRIVACY_OFFICER_PERMISSIONS = [
    "view_contact",
    "change_contact",
    "view_subscription",
    "view_topic",
    "view_consentevent",
    "view_suppression",
    "add_suppression",
    "change_suppression",
    "view_suppressionremoval",
    "view_softbounce",
    "view_datasubject",
    "change_datasubject",
    "view_privacyrequest",
    "view_policyversion",
    "add_policyversion",
    "change_policyversion",
    "view_import",
    "export_subscribers",
]

ROLES = {MARKETER: MARKETER_PERMISSIONS, PRIVACY_OFFICER: PRIVACY_OFFICER_PERMISSIONS}
APP_LABEL = "subscriptions"


def roles_grant(group_model, permission_model) -> None:
    """Create each role's group if missing and give it the listed permissions that exist.

    Takes the models as arguments so a migration can pass its historical ones. Only adds: a
    permission an administrator took away from a role since is given back only by a new call.
    """
    for name, codenames in ROLES.items():
        group, _created = group_model.objects.get_or_create(name=name)
        permissions = permission_model.objects.filter(
            content_type__app_label=APP_LABEL, codename__in=codenames
        )
        group.permissions.add(*permissions)
