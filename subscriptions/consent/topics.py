"""Topics: what people subscribe to."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from ..models import Topic
from .errors import ConsentError


class TopicSlugTaken(ConsentError):
    code = "already_exists"


def topic_create(
    *, slug: str, name: str, description: str = "", channel: str, frequencies: list[str]
) -> Topic:
    """A new topic offering `frequencies` (the first its default; repeats dropped).

    Raises TopicSlugTaken when another topic has the slug.
    """
    try:
        with transaction.atomic():
            return Topic.objects.create(
                slug=slug,
                name=name,
                description=description,
                channel=channel,
                frequencies=list(dict.fromkeys(frequencies)),
            )
    except IntegrityError:
        raise TopicSlugTaken(f"A topic {slug!r} already exists.") from None
