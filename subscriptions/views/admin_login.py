"""The admin's login page, throttled per IP and per username (issue 9, from road 11).

Only failed attempts count. Once either counter is used up, the page answers 429 without
checking the password at all, so guessing goes no faster than ADMIN_LOGIN_RATE_LIMIT_* allow.
Counters live in the cache under keyed hashes (subscriptions.ratelimit): no username or IP is
stored in clear, and no table is added.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache

from .. import ratelimit


def _counters(request) -> list[tuple[str, str, str]]:
    counters = [
        ("admin-login-ip", ratelimit.client_key(request), settings.ADMIN_LOGIN_RATE_LIMIT_IP),
    ]
    username = str(request.POST.get("username", "")).strip().lower()
    if username:
        counters.append(("admin-login-user", username, settings.ADMIN_LOGIN_RATE_LIMIT_USERNAME))
    return counters


def _throttled(request, rate: str):
    _limit, seconds = ratelimit.parse_rate(rate)
    minutes = max(1, -(-seconds // 60))
    context = {
        **admin.site.each_context(request),
        "title": _("Too many sign-in attempts"),
        "message": ngettext(
            "Too many failed attempts. Try again in %(minutes)s minute.",
            "Too many failed attempts. Try again in %(minutes)s minutes.",
            minutes,
        )
        % {"minutes": minutes},
    }
    response = render(request, "admin/login_throttled.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


@never_cache
def admin_login(request, extra_context=None):
    """admin.site.login, refusing to try a password once the IP or the username is over."""
    if request.method != "POST":
        return admin.site.login(request, extra_context)
    counters = _counters(request)
    for scope, key, rate in counters:
        if ratelimit.is_over(scope=scope, key=key, rate=rate):
            return _throttled(request, rate)
    response = admin.site.login(request, extra_context)
    if not request.user.is_authenticated:  # a wrong password, or a form that did not validate
        for scope, key, rate in counters:
            ratelimit.hit(scope=scope, key=key, rate=rate)
    return response
