"""Issuing, checking and revoking API keys."""

from __future__ import annotations

import hashlib
import secrets

from django.utils import timezone

from ..models import ApiKey
from ..models.choices import ApiScope, all_api_scopes

KEY_PREFIX = "pc_"
# How stale `last_used_at` may get before a request writes it again (one write per minute per
# key, not one per request).
LAST_USED_RESOLUTION_SECONDS = 60


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class UnknownScope(ValueError):
    """A scope that is not one of ApiScope's."""


def api_scopes_parse(raw: str) -> list[str]:
    """ "read,send" → ["read", "send"] in ApiScope order. Raises UnknownScope naming the
    unknown ones (and for an empty list: a key that can do nothing is a mistake)."""
    wanted = [part.strip().lower() for part in raw.split(",") if part.strip()]
    unknown = [part for part in wanted if part not in ApiScope.values]
    if unknown or not wanted:
        raise UnknownScope(
            f"Unknown scope {', '.join(unknown) or '(none given)'}; "
            f"choose from {','.join(ApiScope.values)}."
        )
    return [scope for scope in ApiScope.values if scope in wanted]


def api_key_create(*, name: str, scopes: list[str] | None = None) -> tuple[ApiKey, str]:
    """Create a key named `name` with `scopes` (ApiScope values; default: all). Returns the row
    and the secret, which is never stored. Raises UnknownScope for a scope not in ApiScope."""
    scopes = all_api_scopes() if scopes is None else api_scopes_parse(",".join(scopes))
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name, hashed_key=hash_key(secret), prefix=secret[:10], scopes=scopes
    )
    return key, secret


def api_key_revoke(*, key: ApiKey, by=None) -> bool:
    """Revoke a key at once, recording when and (`by`, a staff user) who. Idempotent: a key
    already revoked keeps its first revocation; returns whether it was active."""
    changed = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by
    )
    key.refresh_from_db(fields=["revoked_at", "revoked_by"])
    return bool(changed)


class DuplicateKeyName(ValueError):
    """An API key with this name exists already (names are unique: the ledger's actor)."""


def api_key_name_check(name: str) -> str:
    """The name stripped; raises DuplicateKeyName if taken, ValueError if empty or too long."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("The name must be 1 to 100 characters.")
    if ApiKey.objects.filter(name=name).exists():
        raise DuplicateKeyName(f"An API key named {name!r} already exists.")
    return name


def api_key_lookup(secret: str) -> ApiKey | None:
    """The key with this secret (revoked or not), or None."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    return ApiKey.objects.filter(hashed_key=hash_key(secret)).first()


def api_key_touch(key: ApiKey) -> None:
    now = timezone.now()
    last = key.last_used_at
    if last is None or (now - last).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
