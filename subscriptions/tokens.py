"""Signed tokens, one salt per purpose, and the absolute URLs built from them.

Tokens carry the contact's random `token_key`, never an address or a sequential id. They are
signed with Django's signing framework, so they keep verifying after a SECRET_KEY rotation as
long as the old key is listed in SECRET_KEY_FALLBACKS. Unsubscribe and preference tokens never
expire (a years-old email must still unsubscribe); tokens that can opt someone in do.
"""

from __future__ import annotations

import datetime
import functools
import time
import uuid
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.http import RFC3986_SUBDELIMS

from .models import Contact, Topic

UNSUBSCRIBE = "prefcenter.unsubscribe"
PREFERENCES = "prefcenter.preferences"
CONFIRM = "prefcenter.confirm"
PRIVACY = "prefcenter.privacy"


class BadToken(Exception):
    """The token is forged, truncated, expired or names something that no longer exists."""


class ContactGone(BadToken):
    """The token is genuine but its contact no longer exists: erased, or never confirmed."""


@functools.lru_cache(maxsize=16)
def _signer(salt: str, key: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(key=key, salt=salt)


def _sign(payload: dict, salt: str) -> str:
    """signing.dumps(payload, salt=salt), with the signer made once per salt and key.

    A campaign signs two tokens per recipient. Payloads this short never compress smaller,
    so compression is not tried; signing.loads reads compressed and plain tokens alike.
    """
    return _signer(salt, settings.SECRET_KEY).sign_object(payload)


def _load(token: str, salt: str, max_age: datetime.timedelta | None = None) -> dict:
    if not isinstance(token, str) or len(token) > 1000:
        raise BadToken("malformed")
    try:
        payload = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired:
        raise BadToken("expired") from None
    except (signing.BadSignature, ValueError, UnicodeError, OverflowError):
        raise BadToken("bad signature") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("c"), str):
        raise BadToken("malformed payload")
    return payload


def _contact(payload: dict) -> Contact:
    try:
        key = uuid.UUID(payload["c"])
    except ValueError:
        raise BadToken("malformed payload") from None
    contact = Contact.objects.for_token_key(key)
    if contact is None:
        # The signature is ours, so the contact existed: erasure rotated its token key.
        raise ContactGone("unknown contact")
    return contact


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


_SLOT = "TOKEN"


@functools.lru_cache(maxsize=64)
def _route(name: str, script_prefix: str, urlconf: str | None) -> tuple[str, str]:
    head, _slot, tail = reverse(name, args=[_SLOT], urlconf=urlconf).partition(_SLOT)
    return head, tail


def token_path(name: str, token: str) -> str:
    """reverse(name, args=[token]), the same string, without reverse()'s ~100 µs per call.

    A campaign builds two such links per recipient; the route around the token is resolved
    once per URL name (and script prefix), the token quoted as reverse() quotes it.
    """
    head, tail = _route(name, get_script_prefix(), get_urlconf())
    return head + quote(token, safe=RFC3986_SUBDELIMS + "/~:@") + tail


# --- unsubscribe: contact x topic, never expires ------------------------------------------------


def unsubscribe_token(contact: Contact, topic: Topic) -> str:
    return _sign({"c": contact.token_key.hex, "t": topic.slug}, UNSUBSCRIBE)


def read_unsubscribe_token(token: str) -> tuple[Contact, Topic]:
    payload = _load(token, UNSUBSCRIBE)
    topic = Topic.objects.filter(slug=payload.get("t") or "").first()
    if topic is None:
        raise BadToken("unknown topic")
    return _contact(payload), topic


def unsubscribe_url(contact: Contact, topic: Topic) -> str:
    return absolute(token_path("unsubscribe", unsubscribe_token(contact, topic)))


# --- preferences: never expires, but remembers when it was issued -------------------------------


def preferences_token(contact: Contact, issued_at: datetime.datetime | None = None) -> str:
    """A preference token; `issued_at` backdates it (a link derived from a never-expiring
    unsubscribe link must count as old, so joining a topic from it is confirmed by email)."""
    issued = int(issued_at.timestamp()) if issued_at is not None else int(time.time())
    return _sign({"c": contact.token_key.hex, "i": issued}, PREFERENCES)


def read_preferences_token(token: str) -> tuple[Contact, datetime.datetime]:
    """The contact and when the link was issued (joining topics from old links is confirmed)."""
    payload = _load(token, PREFERENCES)
    issued = payload.get("i")
    if not isinstance(issued, int):
        raise BadToken("malformed payload")
    issued_at = datetime.datetime.fromtimestamp(issued, tz=datetime.UTC)
    return _contact(payload), issued_at


def preferences_url(contact: Contact, issued_at: datetime.datetime | None = None) -> str:
    return absolute(token_path("preferences", preferences_token(contact, issued_at)))


# --- confirm: double opt-in, short-lived -------------------------------------------------------


def confirm_token(contact: Contact, topics: list[Topic]) -> str:
    return _sign({"c": contact.token_key.hex, "t": [t.slug for t in topics]}, CONFIRM)


def read_confirm_token(token: str) -> tuple[Contact, list[Topic]]:
    payload = _load(
        token, CONFIRM, max_age=datetime.timedelta(hours=settings.CONFIRMATION_MAX_AGE_HOURS)
    )
    slugs = payload.get("t")
    if not isinstance(slugs, list) or not all(isinstance(s, str) for s in slugs):
        raise BadToken("malformed payload")
    topics = list(Topic.objects.filter(slug__in=slugs))
    if not topics:
        raise BadToken("unknown topic")
    return _contact(payload), topics


def confirm_url(contact: Contact, topics: list[Topic]) -> str:
    return absolute(token_path("confirm", confirm_token(contact, topics)))


# --- privacy: export / erasure verification, one hour, single use -----------------------------


def privacy_token(contact: Contact, action: str, nonce: str) -> str:
    """The emailed link that proves the mailbox before an export or an erasure.

    `nonce` names a PrivacyRequest row, which makes the link single-use.
    """
    return _sign({"c": contact.token_key.hex, "a": action, "n": nonce}, PRIVACY)


def read_privacy_token(token: str, action: str) -> tuple[Contact, str]:
    """The contact and request nonce of a privacy link for `action`; BadToken if not valid now.

    Whether the request was already used is for the caller to check (subscriptions.privacy).
    """
    payload = _load(
        token, PRIVACY, max_age=datetime.timedelta(minutes=settings.PRIVACY_LINK_MAX_AGE_MINUTES)
    )
    nonce = payload.get("n")
    if payload.get("a") != action or not isinstance(nonce, str):
        raise BadToken("malformed payload")
    return _contact(payload), nonce


def privacy_url(contact: Contact, action: str, nonce: str) -> str:
    return absolute(token_path(f"privacy_{action}", privacy_token(contact, action, nonce)))
