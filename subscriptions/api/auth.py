"""Bearer API-key authentication, the permission that requires it, and the per-key throttle."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from ..consent.ledger import Actor
from ..models import ApiKey
from ..models.choices import ApiScope, Source
from .errors import ApiError
from .keys import api_key_lookup, api_key_touch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiClient:
    """The `request.user` of an API call: the integration holding the key, never a staff user."""

    key: ApiKey
    is_authenticated: bool = True
    is_staff: bool = False

    def __str__(self) -> str:
        return f"api:{self.key.name}"


class InvalidKey(exceptions.AuthenticationFailed):
    default_code = "invalid_key"


class BearerKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None  # the permission answers 401 not_authenticated
        scheme, _sep, secret = header.strip().partition(" ")
        if scheme.lower() != self.keyword.lower() or not secret.strip():
            raise InvalidKey("Send the key as 'Authorization: Bearer <key>'.")
        key = api_key_lookup(secret.strip())
        if key is None:
            raise InvalidKey("Unknown API key.")
        if key.is_revoked:
            raise InvalidKey("This API key was revoked.")
        api_key_touch(key)
        return ApiClient(key=key), key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) and tell the client how to authenticate.
        return f'{self.keyword} realm="api"'


class HasApiKey(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey)


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class HasScope(BasePermission):
    """The key holds the scope the call needs (DESIGN: `read` for every GET; otherwise the
    view's `scope`, per method in its `scopes`), else 403 `forbidden_scope`."""

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False  # HasApiKey answers 401
        needed = required_scope(request.method, view)
        if not key.has_scope(needed):
            raise ApiError(
                403, "forbidden_scope", f"This API key lacks the '{needed}' scope for this call."
            )
        return True


def required_scope(method: str, view) -> str:
    if method in READ_METHODS:
        return str(ApiScope.READ)
    return str(getattr(view, "scopes", {}).get(method) or getattr(view, "scope", ApiScope.WRITE))


class ApiKeyRateThrottle(SimpleRateThrottle):
    """settings.API_RATE_LIMIT requests per minute per key, counted in the shared cache."""

    scope = "api_key"

    def get_rate(self) -> str:
        return f"{settings.API_RATE_LIMIT}/min"

    def allow_request(self, request, view) -> bool:
        # Fail open: with the cache (Redis) down, an API unsubscribe must still be written
        # (rule 2); losing the rate limit for a while is the lesser harm.
        try:
            return super().allow_request(request, view)
        except Exception:
            log.warning("API rate limit skipped: the cache is unavailable", exc_info=True)
            return True

    def get_cache_key(self, request, view) -> str | None:
        key = request.auth
        if not isinstance(key, ApiKey):
            return None
        # The prefix is random per key, so a reused id (a fresh test database) never inherits
        # another key's count.
        return f"throttle:api:{key.pk}:{key.prefix}"


def api_actor(request, *, evidence: str = "") -> Actor:
    """The provenance of a change made through the API: the key's name and the evidence given."""
    return Actor.from_request(
        request, source=Source.API, actor=f"api:{request.auth.name}", evidence=evidence
    )


class BearerKeyScheme(OpenApiAuthenticationExtension):
    target_class = BearerKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API key from `manage.py create_api_key NAME [--scopes ...]`. Scopes: `read` "
                "(every GET), `write` (contacts, topics, subscriptions, suppressions, imports, "
                "webhooks, preference links), `send` (campaigns, transactional), `privacy` "
                "(export, erasure), `sms`; a call outside them answers 403 `forbidden_scope`."
            ),
        }
