"""Admin sign-ins are throttled per IP and per username (issue 9, road 11), with real POSTs."""

from __future__ import annotations

import hashlib

import pytest
from django.core.cache import cache
from django.test import override_settings

from subscriptions import ratelimit

pytestmark = [
    pytest.mark.usefixtures("fresh_rate_limits"),
    pytest.mark.django_db,
]

LOGIN = "/admin/login/"


@pytest.fixture
def sam(django_user_model):
    return django_user_model.objects.create_user(
        "sam", password="pw-sam-staff-123", is_staff=True, is_superuser=True
    )


def attempt(client, username, password, ip="203.0.113.10"):
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip, follow=False
    )


@override_settings(ADMIN_LOGIN_RATE_LIMIT_USERNAME="3/15m", ADMIN_LOGIN_RATE_LIMIT_IP="100/h")
def test_it_stops_guessing_one_username_from_many_ips(client, sam):
    for n in range(3):
        response = attempt(client, "sam", f"guess-{n}", ip=f"198.51.100.{n}")
        assert response.status_code == 200  # the login form again, with its error
    # The right password no longer helps: the page does not even try it.
    locked = attempt(client, "SAM", "pw-sam-staff-123", ip="192.0.2.77")
    assert locked.status_code == 429
    assert "Too many failed attempts. Try again in 15 minutes." in locked.content.decode()
    assert locked["Retry-After"] == "900"
    assert "_auth_user_id" not in client.session


@override_settings(ADMIN_LOGIN_RATE_LIMIT_IP="3/15m", ADMIN_LOGIN_RATE_LIMIT_USERNAME="100/h")
def test_it_stops_one_ip_spraying_many_usernames(client, sam):
    for n in range(3):
        assert attempt(client, f"user{n}", "password").status_code == 200
    assert attempt(client, "sam", "pw-sam-staff-123").status_code == 429
    # Another visitor still signs in.
    response = attempt(client, "sam", "pw-sam-staff-123", ip="198.51.100.200")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(sam.pk)


@override_settings(ADMIN_LOGIN_RATE_LIMIT_USERNAME="2/15m")
def test_it_counts_only_failed_attempts(client, sam):
    for _ in range(3):
        assert attempt(client, "sam", "pw-sam-staff-123").status_code == 302
        client.logout()
    assert attempt(client, "sam", "wrong").status_code == 200


def test_it_keeps_no_username_or_ip_in_clear_in_the_cache(client, sam):
    attempt(client, "sam", "wrong")
    assert cache.has_key(f"rl:admin-login-user:{ratelimit.key_digest('sam')}")
    assert not cache.has_key(f"rl:admin-login-user:{hashlib.sha256(b'sam').hexdigest()[:32]}")
    assert cache.has_key(f"rl:admin-login-ip:{ratelimit.key_digest('203.0.113.10')}")


def test_it_still_shows_the_login_form(client, db):
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_it_reads_rates_with_a_multiple_of_the_period():
    assert ratelimit.parse_rate("5/15m") == (5, 900)
    assert ratelimit.parse_rate("10/h") == (10, 3600)
    assert ratelimit.parse_rate("10/hour") == (10, 3600)
