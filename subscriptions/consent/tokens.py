"""Signed tokens, one salt per purpose, and the absolute URLs built from them.

Tokens carry the contact's random `token_key`, never an address or a sequential id (a signed
payload is only base64: anyone holding a token can read it). They are signed with Django's
signing framework, so they keep verifying after a SECRET_KEY rotation as long as the old key
is listed in SECRET_KEY_FALLBACKS. Unsubscribe and preference tokens never expire (a years-old
email must still unsubscribe); tokens that can opt someone in do, or are single-use.

Token power never grows: a page derives links only of equal or lesser power than the link
that led to it. A preference token records when it was issued and how it reached the person
(`via`); a link derived from it keeps that issue time. The privacy buttons carry a
request-only token (own salt) that can start an export or erasure request (which itself is
verified by email) and nothing else.

A campaign's unsubscribe and preference links also carry the campaign's id (`k`), so an
unsubscribe made through them names that campaign in the ledger and counts in its statistics.
A campaign id is not personal (it is the same for every recipient); tokens mailed before it
was added carry none and keep working. Links derived from a campaign's link keep its campaign.
"""

from __future__ import annotations

import datetime
import functools
import secrets
import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.http import RFC3986_SUBDELIMS

from ..models import ConfirmationRequest, Contact, Topic
from ..models.choices import LinkVia

UNSUBSCRIBE = "prefcenter.unsubscribe"
PREFERENCES = "prefcenter.preferences"
PRIVACY_REQUEST = "prefcenter.privacy-request"
CONFIRM = "prefcenter.confirm"
PRIVACY = "prefcenter.privacy"
TEST_LINK = "prefcenter.test-link"  # a test link is never another kind of token
HOST_LINK = "prefcenter.host-link"  # a preference link the host product asked for (expires)

# The issue time of links derived from a never-expiring unsubscribe link: as old as can be.
EPOCH = datetime.datetime.fromtimestamp(0, tz=datetime.UTC)


class BadToken(Exception):
    """The token is forged, truncated, expired or names something that no longer exists."""


class HostLinkExpired(BadToken):
    """A genuine host preference link past PREFERENCE_LINK_MAX_AGE_HOURS: the host product hands
    out a fresh one each time the person opens their preferences there."""


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


def _with_campaign(payload: dict, campaign_id: int | None) -> dict:
    if campaign_id is not None:
        payload["k"] = int(campaign_id)
    return payload


def _read_campaign(payload: dict) -> int | None:
    campaign_id = payload.get("k")
    if campaign_id is None:
        return None
    if not isinstance(campaign_id, int) or isinstance(campaign_id, bool) or campaign_id < 1:
        raise BadToken("malformed payload")
    return campaign_id


@dataclass(frozen=True)
class UnsubscribeLink:
    """What an unsubscribe token names: whose subscription, and the campaign that mailed it."""

    contact: Contact
    topic: Topic
    campaign_id: int | None = None


def unsubscribe_token(contact: Contact, topic: Topic, *, campaign_id: int | None = None) -> str:
    return _sign(
        _with_campaign({"c": contact.token_key.hex, "t": topic.slug}, campaign_id), UNSUBSCRIBE
    )


def read_unsubscribe_link(token: str) -> UnsubscribeLink:
    """The contact, topic and campaign (None for a link mailed outside a campaign, or before
    links named it) of an unsubscribe token; BadToken when forged or naming nothing now."""
    payload = _load(token, UNSUBSCRIBE)
    campaign_id = _read_campaign(payload)
    topic = Topic.objects.filter(slug=payload.get("t") or "").first()
    if topic is None:
        raise BadToken("unknown topic")
    return UnsubscribeLink(contact=_contact(payload), topic=topic, campaign_id=campaign_id)


def read_unsubscribe_token(token: str) -> tuple[Contact, Topic]:
    link = read_unsubscribe_link(token)
    return link.contact, link.topic


def unsubscribe_url(contact: Contact, topic: Topic, *, campaign_id: int | None = None) -> str:
    token = unsubscribe_token(contact, topic, campaign_id=campaign_id)
    return absolute(token_path("unsubscribe", token))


# --- preferences: never expires, but remembers when and how it was issued --------------------


@dataclass(frozen=True)
class PreferenceLink:
    """What a preference token proves: whose page, since when, and how it reached them."""

    contact: Contact
    issued_at: datetime.datetime
    via: str
    # The campaign whose mail the link came in (directly or through its unsubscribe page).
    campaign_id: int | None = None
    # A host link's way back to the host product (checked against its origins when issued).
    return_url: str = ""


def _issued(issued_at: datetime.datetime | None) -> int:
    return int(issued_at.timestamp()) if issued_at is not None else int(time.time())


def _read_issued(payload: dict) -> tuple[datetime.datetime, str]:
    issued = payload.get("i")
    via = payload.get("v", LinkVia.UNKNOWN)
    if not isinstance(issued, int) or via not in LinkVia.values:
        raise BadToken("malformed payload")
    try:
        return datetime.datetime.fromtimestamp(issued, tz=datetime.UTC), via
    except (OverflowError, OSError, ValueError):
        raise BadToken("malformed payload") from None


def preferences_token(
    contact: Contact,
    issued_at: datetime.datetime | None = None,
    *,
    via: str = LinkVia.CAMPAIGN,
    campaign_id: int | None = None,
) -> str:
    """A preference token. `issued_at` backdates it: a link derived from another link keeps
    the parent's issue time (one derived from a never-expiring unsubscribe link counts as
    old, so joining a topic from it is confirmed by email). `via` says how it reached them,
    `campaign_id` which campaign's mail carried it."""
    payload = {"c": contact.token_key.hex, "i": _issued(issued_at), "v": str(via)}
    return _sign(_with_campaign(payload, campaign_id), PREFERENCES)


def host_link_token(contact: Contact, *, return_url: str = "") -> str:
    """A preference token for the host product's "email preferences" button: it opens the same
    page as a mailed one (via HOST_LINK), but only for PREFERENCE_LINK_MAX_AGE_HOURS, since the
    host hands it out on every visit instead of mailing it once. `return_url` is signed in as
    given: the caller (integrations.links) checks its origin first."""
    payload = {"c": contact.token_key.hex, "i": int(time.time()), "v": str(LinkVia.HOST_LINK)}
    if return_url:
        payload["r"] = return_url
    return _sign(payload, HOST_LINK)


def host_link_max_age() -> datetime.timedelta:
    return datetime.timedelta(hours=settings.PREFERENCE_LINK_MAX_AGE_HOURS)


def _read_host_link(token: str) -> PreferenceLink:
    try:
        payload = _load(token, HOST_LINK, max_age=host_link_max_age())
    except BadToken as problem:
        if str(problem) == "expired":
            raise HostLinkExpired("expired") from None
        raise
    issued_at, via = _read_issued(payload)
    return_url = payload.get("r", "")
    if via != LinkVia.HOST_LINK or not isinstance(return_url, str):
        raise BadToken("malformed payload")
    return PreferenceLink(
        contact=_contact(payload), issued_at=issued_at, via=via, return_url=return_url
    )


def read_preference_link(token: str) -> PreferenceLink:
    """Whose page a preference token opens, since when and how it reached them (joining topics
    from an old link is confirmed by email); BadToken when forged or the contact is gone, or
    ("expired") a host link older than PREFERENCE_LINK_MAX_AGE_HOURS."""
    try:
        payload = _load(token, PREFERENCES)
    except BadToken as problem:
        if str(problem) != "bad signature":
            raise
        return _read_host_link(token)
    issued_at, via = _read_issued(payload)
    campaign_id = _read_campaign(payload)
    return PreferenceLink(
        contact=_contact(payload), issued_at=issued_at, via=via, campaign_id=campaign_id
    )


def preferences_url(
    contact: Contact,
    issued_at: datetime.datetime | None = None,
    *,
    via: str = LinkVia.CAMPAIGN,
    campaign_id: int | None = None,
) -> str:
    token = preferences_token(contact, issued_at, via=via, campaign_id=campaign_id)
    return absolute(token_path("preferences", token))


# --- privacy request: the buttons on the preference page, request-only ---------------------


def privacy_request_token(contact: Contact, issued_at: datetime.datetime | None = None) -> str:
    """Starts an export or erasure request (which emails a one-hour link) and nothing else.

    It never opens the preference page, so a page showing the privacy buttons hands out no
    preference power. `issued_at` is the issue time of the link the page was opened with.
    """
    return _sign({"c": contact.token_key.hex, "i": _issued(issued_at)}, PRIVACY_REQUEST)


def read_privacy_request_token(token: str) -> Contact:
    """The contact a privacy button acts for. A preference token is accepted too: it already
    has more power than a privacy request (its page shows the buttons)."""
    try:
        payload = _load(token, PRIVACY_REQUEST)
    except BadToken:
        return read_preference_link(token).contact
    _read_issued(payload)
    return _contact(payload)


# --- confirm: double opt-in, short-lived and single-use ---------------------------------------


def confirm_token(confirmation: ConfirmationRequest) -> str:
    """The double opt-in link of one ConfirmationRequest. It carries the request's random nonce,
    never the topics: which topics, whether it was used or overtaken, lives in the row."""
    return _sign(
        {"c": confirmation.contact.token_key.hex, "n": confirmation.nonce},
        CONFIRM,
    )


def read_confirm_token(token: str) -> tuple[Contact, ConfirmationRequest]:
    """The contact and its confirmation request; BadToken when forged, expired or unknown.

    Whether the request is used or overtaken is for the caller (consent.confirmation_accept).
    """
    payload = _load(
        token, CONFIRM, max_age=datetime.timedelta(hours=settings.CONFIRMATION_MAX_AGE_HOURS)
    )
    nonce = payload.get("n")
    if "n" not in payload and "t" in payload:
        # Mailed before confirmations became single-use: such a link could be replayed, so it
        # is treated as expired (the person signs up again and gets a single-use link).
        raise BadToken("expired")
    if not isinstance(nonce, str):
        raise BadToken("malformed payload")
    contact = _contact(payload)
    confirmation = ConfirmationRequest.objects.filter(contact=contact, nonce=nonce).first()
    if confirmation is None:
        raise BadToken("unknown confirmation")
    if not confirmation.topics.exists():
        raise BadToken("unknown topic")  # every topic it named was deleted since
    return contact, confirmation


def confirm_url(confirmation: ConfirmationRequest) -> str:
    return absolute(token_path("confirm", confirm_token(confirmation)))


# --- privacy: export / erasure verification, one hour, single use -----------------------------


def privacy_token(contact: Contact, action: str, nonce: str) -> str:
    """The emailed link that proves the mailbox before an export or an erasure.

    `nonce` names a PrivacyRequest row, which makes the link single-use.
    """
    return _sign({"c": contact.token_key.hex, "a": action, "n": nonce}, PRIVACY)


def read_privacy_token(token: str, action: str) -> tuple[Contact, str]:
    """The contact and request nonce of a privacy link for `action`; BadToken if not valid now.

    Whether the request was already used is for the caller to check (subscriptions.privacy.rights).
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


# --- test links: previews and test sends, inert (rule 9) ------------------------------------


def test_link_token(purpose: str) -> str:
    """A signed token that names no contact: `purpose` is "unsubscribe" or "preferences".

    The random part only keeps two test links from looking alike; nothing is looked up by it.
    """
    return _sign({"p": purpose, "r": secrets.token_urlsafe(6)}, TEST_LINK)


def is_test_link(token: str, purpose: str) -> bool:
    """Whether `token` is a genuine test link for `purpose` (never raises)."""
    if not isinstance(token, str) or len(token) > 1000:
        return False
    try:
        payload = signing.loads(token, salt=TEST_LINK)
    except (signing.BadSignature, ValueError, UnicodeError, OverflowError):
        return False
    return isinstance(payload, dict) and payload.get("p") == purpose
