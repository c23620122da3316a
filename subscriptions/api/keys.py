"""Issuing, checking and revoking API keys."""

from __future__ import annotations

import hashlib
import secrets

from django.utils import timezone

from ..models import ApiKey

KEY_PREFIX = "pc_"
# How stale `last_used_at` may get before a request writes it again (one write per minute per
# key, not one per request).
LAST_USED_RESOLUTION_SECONDS = 60


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, name: str) -> tuple[ApiKey, str]:
    """Create a key named `name`. Returns the row and the secret, which is never stored."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(name=name, hashed_key=hash_key(secret), prefix=secret[:10])
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
