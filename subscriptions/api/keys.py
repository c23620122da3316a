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


def api_key_revoke(*, key: ApiKey) -> bool:
    """Revoke a key at once. Idempotent; returns whether it was active."""
    changed = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    key.refresh_from_db(fields=["revoked_at"])
    return bool(changed)


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
