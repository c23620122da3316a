"""Fixed-window rate limits kept in the Django cache (Redis in production).

Rates are written like the settings: "10/h" (also s, m, d). A limit is counted whether or not
the request goes on to succeed, so the answer never depends on whether an address is known.
"""

from __future__ import annotations

import hashlib
import logging

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'10/h' -> (10, 3600). Raises ImproperlyConfigured on anything else."""
    count, _sep, period = rate.partition("/")
    try:
        limit = int(count)
        seconds = _PERIODS[period.strip().lower()[:1]]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(f"Rate {rate!r} is not like '10/h'.") from None
    return limit, seconds


def hit(*, scope: str, key: str, rate: str) -> bool:
    """Count one hit for `key` in `scope`; True when it is over the limit (fails open)."""
    limit, seconds = parse_rate(rate)
    if limit <= 0:
        return False
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    cache_key = f"rl:{scope}:{digest}"
    try:
        # add() creates the window with its expiry; incr() then counts atomically within it.
        if cache.add(cache_key, 1, timeout=seconds):
            return False
        try:
            count = cache.incr(cache_key)
        except ValueError:  # the window expired between add() and incr()
            cache.add(cache_key, 1, timeout=seconds)
            return False
    except Exception:  # the cache is down: serve the page rather than fail it
        log.exception("rate limit %s not counted", scope)
        return False
    return count > limit


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"
