"""Topics: what people subscribe to."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from ..models import Topic
from ..models.contacts import TOPIC_LANGUAGES, translated_field
from .errors import ConsentError


class TopicSlugTaken(ConsentError):
    code = "already_exists"


class UnknownLanguage(ValueError):
    """A translation into a language the pages do not speak: a caller's mistake."""


def topic_create(
    *,
    slug: str,
    name: str,
    description: str = "",
    channel: str,
    frequencies: list[str],
    translations: dict[str, dict[str, str]] | None = None,
) -> Topic:
    """A new topic offering `frequencies` (the first its default; repeats dropped), with its
    name and description in other languages: `translations={"da": {"name": …, "description": …}}`.

    Raises TopicSlugTaken when another topic has the slug, UnknownLanguage for a language
    LANGUAGES does not configure (or that is LANGUAGE_CODE, which `name` already holds).
    """
    translated = {}
    for language, texts in (translations or {}).items():
        if language not in TOPIC_LANGUAGES:
            raise UnknownLanguage(f"Topics are not translated into {language!r}.")
        for field in ("name", "description"):
            if field in texts:
                translated[translated_field(field, language)] = texts[field]
    try:
        with transaction.atomic():
            return Topic.objects.create(
                slug=slug,
                name=name,
                description=description,
                channel=channel,
                frequencies=list(dict.fromkeys(frequencies)),
                **translated,
            )
    except IntegrityError:
        raise TopicSlugTaken(f"A topic {slug!r} already exists.") from None
