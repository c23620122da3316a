"""Template tags the preference pages include: privacy buttons and the upcoming policy change."""

from __future__ import annotations

from django import template
from django.urls import reverse

from ..consent.tokens import privacy_request_token
from ..privacy.policy import upcoming_policy_change

register = template.Library()


@register.inclusion_tag("subscriptions/privacy/_buttons.html")
def privacy_buttons(contact, link_issued_at=None):
    """'Download my data' and 'Erase my data': each sends a verification email first.

    The buttons carry a request-only token (its own salt): it starts the emailed verification
    and cannot open or act on the preference page, so the page hands out no preference power.
    `link_issued_at` is the issue time of the link the page was opened with.
    """
    if contact is None or getattr(contact, "is_erased", True):
        return {"show": False}
    token = privacy_request_token(contact, link_issued_at)
    return {
        "show": True,
        "export_url": reverse("privacy_request", args=["export", token]),
        "erase_url": reverse("privacy_request", args=["erase", token]),
    }


@register.inclusion_tag("subscriptions/privacy/_policy_notice.html")
def upcoming_policy_notice():
    """A notice of the next material privacy-policy change, if one is announced."""
    return {"policy": upcoming_policy_change()}
