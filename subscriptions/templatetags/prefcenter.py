"""For a Django host product that runs prefcenter's code (or this very site): the embedded
preference page in one tag.

    {% load prefcenter %}
    {% prefcenter_preferences_iframe contact return_url=request.build_absolute_uri %}

It makes a fresh preference link (integrations.links, the same as the API's), frames it with
`?embed=1`, and loads embed-host.js, which grows the frame to the page's height. A host on
another stack asks the API for the link and pastes the snippet of docs/integrating.md.
"""

from __future__ import annotations

from django import template
from django.templatetags.static import static
from django.utils.translation import gettext as _

from ..consent.tokens import absolute
from ..integrations.links import ReturnUrlNotAllowed, preference_link_create

register = template.Library()


@register.inclusion_tag("subscriptions/embed/iframe.html")
def prefcenter_preferences_iframe(contact, return_url: str = "", height: int = 640):
    """The iframe of `contact`'s preference page. A `return_url` outside
    PREFERENCE_LINK_ORIGINS is left out (an embedded page shows no way back anyway)."""
    try:
        link = preference_link_create(contact=contact, return_url=return_url)
    except ReturnUrlNotAllowed:
        link = preference_link_create(contact=contact)
    return {
        "src": f"{link.url}?embed=1",
        "height": int(height),
        "title": _("Email preferences"),
        "script_url": absolute(static("subscriptions/embed-host.js")),
    }
