"""The objects a call names, in its URL path or its body; each lookup answers the API's own 404
(or 400 for a body field) rather than letting a bad id or slug reach the database."""

from __future__ import annotations

import re

from ...models import Campaign, Contact, Topic
from ..errors import ApiError, UnknownTopic
from .base import MAX_ID

# A topic slug as Topic.slug (a SlugField) can hold it; anything else names no topic.
SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")


def _pk(value: int) -> int:
    if value > MAX_ID:
        raise ApiError(404, "not_found", "Not found.")
    return value


def path_contact(pk: int) -> Contact:
    """The active contact, 404 once erased: an erased person is nobody the API can see.

    The id of a spelling merged into another contact names that contact, as its links do: an
    integration that stored the old id must still reach the person (an unsubscribe above all).
    """
    contact = Contact.objects.following_merges(
        Contact.objects.filter(pk=_pk(pk)).prefetch_related("subscriptions__topic").first()
    )
    if contact is None:
        raise ApiError(404, "not_found", "No such contact.")
    return contact


def _find_topic(slug: str) -> Topic | None:
    # Only slugs reach the query: PostgreSQL text cannot hold a NUL.
    return Topic.objects.filter(slug=slug).first() if SLUG.fullmatch(slug) else None


def path_topic(slug: str) -> Topic:
    """The topic in the URL path; 404 `unknown_topic`."""
    topic = _find_topic(slug)
    if topic is None:
        raise UnknownTopic(slug)
    return topic


def body_topic(slug: str, field: str) -> Topic:
    """A topic named in the request body: an unknown one is bad input (400), not a missing
    resource (the 404 of a topic in the URL path)."""
    topic = _find_topic(slug)
    if topic is None:
        raise ApiError(400, "unknown_topic", f"{field}: There is no topic {slug!r}.")
    return topic


def path_campaign(pk: int) -> Campaign:
    campaign = Campaign.objects.select_related("topic").filter(pk=_pk(pk)).first()
    if campaign is None:
        raise ApiError(404, "not_found", "No such campaign.")
    return campaign
