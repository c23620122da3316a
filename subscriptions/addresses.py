"""Email address normalization and the keyed hash that suppression is keyed by.

An address is normalized once, on the way in: surrounding white space removed, the domain
lowercased and IDNA-encoded. The local part is kept exactly as given (`+tags` and dots are
meaningful to some mail servers), but addresses are *matched* case-insensitively through
`address_key`, because in practice no mailbox provider treats case as significant.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

_validate = EmailValidator()


class InvalidAddress(ValueError):
    """The text is not a deliverable email address."""


def normalize_email(raw: str) -> str:
    """Return the normalized form of `raw`, or raise InvalidAddress."""
    if not isinstance(raw, str):
        raise InvalidAddress("not a string")
    candidate = raw.strip()
    if len(candidate) > 254 or "@" not in candidate:
        raise InvalidAddress("not an email address")
    local, _sep, domain = candidate.rpartition("@")
    if not local or not domain:
        raise InvalidAddress("not an email address")
    try:
        domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidAddress("the domain is not valid") from None
    normalized = f"{local}@{domain}"
    try:
        _validate(normalized)
    except ValidationError:
        raise InvalidAddress("not a valid email address") from None
    return normalized


def address_key(normalized: str) -> str:
    """The case-insensitive matching key of a normalized address."""
    return normalized.lower()


def address_hash(email: str) -> str:
    """Keyed hash (HMAC-SHA256) of an address, stable across SECRET_KEY rotations.

    Accepts a raw or normalized address; raises InvalidAddress for anything else.
    """
    key = address_key(normalize_email(email))
    return hmac.new(
        settings.SUPPRESSION_HASH_KEY.encode(), key.encode(), hashlib.sha256
    ).hexdigest()
