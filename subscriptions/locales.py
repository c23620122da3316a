"""The one check every locale passes on its way in (import, API, pages, admin).

A contact's locale is later handed to gettext to pick a catalogue, so only the languages the
pages speak (settings.LANGUAGES) are ever stored: `../../x` never reaches a file path. Region
variants the site does not speak fall back to their language (`da-DK` and `da_dk` are `da`).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError

_TAG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*\Z")


class InvalidLocale(ValueError):
    """Not a language the pages speak."""

    code = "invalid_locale"


def supported_locales() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def normalize_locale(raw: str) -> str:
    """The supported language code `raw` names, or raise InvalidLocale saying which are offered."""
    supported = supported_locales()
    tag = raw.strip().lower().replace("_", "-") if isinstance(raw, str) else ""
    if _TAG.match(tag):
        if tag in supported:
            return tag
        language = tag.split("-", 1)[0]
        if language in supported:
            return language
    shown = repr(raw[:20]) if isinstance(raw, str) else "this value"
    raise InvalidLocale(f"{shown} is not a supported locale; use one of: {', '.join(supported)}.")


def validate_locale(value: str) -> None:
    """Model-field validator: a stored locale is exactly one of settings.LANGUAGES."""
    if value not in supported_locales():
        raise ValidationError(
            "%(value)s is not a supported locale; use one of: %(supported)s.",
            code="invalid_locale",
            params={"value": repr(value[:20]), "supported": ", ".join(supported_locales())},
        )
