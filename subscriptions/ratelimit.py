"""Fixed-window rate limits kept in the Django cache (Redis in production): the one counter
behind the per-visitor limits of the pages and API (hit, is_over) and the send-rate throttle of
the marketing workers (wait_for_slot).

Rates are written like the settings: "10/h" (also s, m, d). A limit is counted whether or not
the request goes on to succeed, so the answer never depends on whether an address is known.

Keys are HMACs under SUPPRESSION_HASH_KEY: whoever reads the cache (or a dump of it) cannot test
whether an address or IP was seen by hashing a guess.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import logging
import re
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'10/h' -> (10, 3600); '5/15m' -> (5, 900). Raises ImproperlyConfigured on anything else."""
    count, _sep, period = rate.partition("/")
    match = re.fullmatch(r"\s*(\d*)\s*([a-z])[a-z]*\s*", period.lower())
    try:
        limit = int(count)
        seconds = _PERIODS[match.group(2)] * int(match.group(1) or 1)
    except (ValueError, KeyError, AttributeError):
        raise ImproperlyConfigured(f"Rate {rate!r} is not like '10/h' or '5/15m'.") from None
    return limit, seconds


def hit(*, scope: str, key: str, rate: str) -> bool:
    """Count one hit for `key` in `scope`; True when it is over the limit (fails open)."""
    limit, seconds = parse_rate(rate)
    if limit <= 0:
        return False
    try:
        count = _count(f"rl:{scope}:{key_digest(key)}", 1, timeout=seconds)
    except Exception:  # the cache is down: serve the page rather than fail it
        log.exception("rate limit %s not counted", scope)
        return False
    return count > limit


def _count(cache_key: str, n: int, *, timeout: float) -> int:
    """Add `n` to the window counter at `cache_key` (created with `timeout`); the new count."""
    # add() creates the window with its expiry; incr() then counts atomically within it.
    if cache.add(cache_key, n, timeout=timeout):
        return n
    try:
        return cache.incr(cache_key, n)
    except ValueError:  # the window expired between add() and incr()
        cache.add(cache_key, n, timeout=timeout)
        return n


def wait_for_slot(*, key: str, n: int, per_second: float) -> float:
    """Block until `n` more events fit under `per_second` for `key`; the seconds waited.

    Every process sharing the cache counts in the same windows, aligned on the clock:
    max(1, 1/per_second) seconds each, admitting per_second * window events. A request larger
    than a window still goes, alone in a fresh one. Unlike hit(), a cache failure raises: a
    sender must not run unthrottled. `per_second` <= 0 means no limit.
    """
    if per_second <= 0:
        return 0.0
    window = max(1.0, 1.0 / per_second)
    limit = max(1, int(per_second * window))
    waited = 0.0
    while True:
        now = time.time()
        slot = int(now // window)
        count = _count(f"{key}:{slot}", n, timeout=int(window) + 5)
        if count <= limit or count == n:
            return waited
        pause = (slot + 1) * window - now + 0.001
        time.sleep(pause)
        waited += pause


def is_over(*, scope: str, key: str, rate: str) -> bool:
    """True when `key` has already used up its window in `scope` (counts nothing; fails open)."""
    limit, _seconds = parse_rate(rate)
    if limit <= 0:
        return False
    try:
        count = cache.get(f"rl:{scope}:{key_digest(key)}") or 0
    except Exception:
        log.exception("rate limit %s not read", scope)
        return False
    return count >= limit


def key_digest(key: str) -> str:
    """The cache-key form of a rate-limit key: HMAC-SHA256 under SUPPRESSION_HASH_KEY."""
    return hmac.new(
        settings.SUPPRESSION_HASH_KEY.encode(),
        key.encode("utf-8", "surrogatepass"),
        hashlib.sha256,
    ).hexdigest()[:32]


@functools.cache
def _networks(spec: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def trusted_proxies() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """settings.TRUSTED_PROXIES as networks (the setting is validated when settings load)."""
    return _networks(tuple(settings.TRUSTED_PROXIES))


def _parse_ip(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(raw.strip().strip("[]"))
    except ValueError:
        return None
    # An IPv4 peer seen through an IPv6 socket (::ffff:a.b.c.d) is that IPv4 peer.
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _is_trusted(ip, networks) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)


def client_ip(request) -> str:
    """The visitor's IP address: the one source for rate limits and the ledger.

    REMOTE_ADDR, unless it is one of TRUSTED_PROXIES: then the rightmost X-Forwarded-For entry
    that is not itself a trusted proxy (entries left of it were written by the client and can
    be forged). Returns "unknown" when there is no usable address.
    """
    remote = _parse_ip(request.META.get("REMOTE_ADDR") or "")
    if remote is None:
        return "unknown"
    networks = trusted_proxies()
    if not networks or not _is_trusted(remote, networks):
        return str(remote)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for raw in reversed(forwarded.split(",")):
        hop = _parse_ip(raw)
        if hop is None:
            # A malformed hop cannot be trusted past: stop at the last proxy we know.
            break
        if not _is_trusted(hop, networks):
            return str(hop)
        remote = hop
    return str(remote)


def client_key(request) -> str:
    """The rate-limit key of a visitor: their IP, or their /64 for IPv6.

    One IPv6 subscriber usually holds a whole /64, so keying single addresses would hand them
    2**64 counters.
    """
    ip = client_ip(request)
    parsed = _parse_ip(ip)
    if parsed is not None and parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return ip
