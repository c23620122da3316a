"""Template tags the preference pages include: privacy buttons and the upcoming policy change."""

from __future__ import annotations

from django import template
from django.urls import reverse

from ..policy import upcoming_policy_change
from ..tokens import preferences_token

register = template.Library()


@register.inclusion_tag("subscriptions/privacy/_buttons.html")
def privacy_buttons(contact):
    """'Download my data' and 'Erase my data': each sends a verification email first.

    A fresh preference token is minted so the buttons work on the signed-in account page too.
    """
    if contact is None or getattr(contact, "is_erased", True):
        return {"show": False}
    token = preferences_token(contact)
    return {
        "show": True,
        "export_url": reverse("privacy_request", args=["export", token]),
        "erase_url": reverse("privacy_request", args=["erase", token]),
    }


@register.inclusion_tag("subscriptions/privacy/_policy_notice.html")
def upcoming_policy_notice():
    """A notice of the next material privacy-policy change, if one is announced."""
    return {"policy": upcoming_policy_change()}
