"""Preference links for the host product (the shop, the SaaS app prefcenter runs beside).

The host asks the API for a link when its user presses "email preferences" in their profile,
and opens it or frames it (`?embed=1`). The link is a preference token of its own salt
(consent.tokens.host_link_token): for that contact only, valid for
PREFERENCE_LINK_MAX_AGE_HOURS. The person acts from it themselves (ledger source `host_link`);
the host proved its user's login, not their mailbox, so re-joining a topic they left or
lifting an unsubscribe-all is still confirmed by email (consent.preferences).

Where the link may lead back to, and which pages may frame it, is one list:
PREFERENCE_LINK_ORIGINS.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from ..consent.tokens import (
    PreferenceLink,
    absolute,
    host_link_max_age,
    host_link_token,
    token_path,
)
from ..models import Contact
from ..models.choices import LinkVia

# Long enough for any real profile URL; a token carrying more would stop fitting in a URL.
RETURN_URL_MAX_LENGTH = 500
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ReturnUrlNotAllowed(ValueError):
    """The return_url is not an http(s) URL on one of PREFERENCE_LINK_ORIGINS."""


@dataclass(frozen=True)
class IssuedPreferenceLink:
    url: str
    expires_at: datetime.datetime


def url_origin(url: str) -> str | None:
    """The origin of an absolute http(s) URL as browsers write it (`https://app.example.com`,
    the port only when not the scheme's default), or None for anything else."""
    if not isinstance(url, str) or any(ord(c) < 33 or c in "\\\x7f" for c in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    host = parts.hostname
    if ":" in host:  # an IPv6 literal keeps its brackets in an origin
        host = f"[{host}]"
    origin = f"{parts.scheme}://{host}"
    return origin if port in (None, _DEFAULT_PORTS[parts.scheme]) else f"{origin}:{port}"


def return_url_allowed(url: str) -> bool:
    return len(url) <= RETURN_URL_MAX_LENGTH and url_origin(url) in settings.PREFERENCE_LINK_ORIGINS


def preference_link_create(*, contact: Contact, return_url: str = "") -> IssuedPreferenceLink:
    """A link to `contact`'s preference page for the host product, and when it stops working.

    Raises ReturnUrlNotAllowed, before anything is signed, for a return_url outside
    PREFERENCE_LINK_ORIGINS. Nothing is stored: the link is a signed token, so making one
    per page view costs the host nothing.
    """
    if return_url and not return_url_allowed(return_url):
        raise ReturnUrlNotAllowed(return_url)
    # The signature's own timestamp is in whole seconds, taken just after this.
    issued_at = timezone.now().replace(microsecond=0)
    token = host_link_token(contact, return_url=return_url)
    return IssuedPreferenceLink(
        url=absolute(token_path("preferences", token)),
        expires_at=issued_at + host_link_max_age(),
    )


def way_back(link: PreferenceLink) -> tuple[str, str] | None:
    """(url, host) of the host product's page the person came from, shown as "Back to <host>";
    None when the link has none or its origin was taken off PREFERENCE_LINK_ORIGINS since."""
    if link.via != LinkVia.HOST_LINK or not link.return_url:
        return None
    if not return_url_allowed(link.return_url):
        return None
    return link.return_url, urlsplit(link.return_url).netloc


def frame_ancestors(link: PreferenceLink) -> list[str]:
    """The origins that may frame the page `link` opens: the host's, for a host link only (a
    mailed link's page is never framed, so no listed site can overlay it)."""
    if link.via != LinkVia.HOST_LINK:
        return []
    return list(settings.PREFERENCE_LINK_ORIGINS)
