"""Property test: arbitrary strings thrown at the token pages never cause a 5xx or a change."""

from __future__ import annotations

import string
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from subscriptions.consent.tokens import confirm_token, preferences_token, unsubscribe_token
from subscriptions.models import ConfirmationRequest

URL_SAFE = string.ascii_letters + string.digits + "-_.:~"
printable_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=120
)
url_safe_text = st.text(alphabet=URL_SAFE, min_size=1, max_size=200)
PAGES = ["unsubscribe", "preferences", "confirm"]
# Bodies a scanner, a mailbox provider or an attacker might send along.
BODIES = st.sampled_from(
    [
        {},
        {"List-Unsubscribe": "One-Click"},
        {"scope": "all"},
        {"action": "unsubscribe_all"},
        {"action": "save", "on-product-news": "on"},
    ]
)


@pytest.fixture
def valid_tokens(subscribed_alice, topic):
    confirmation = ConfirmationRequest.objects.create(contact=subscribed_alice)
    confirmation.topics.set([topic])
    return [
        unsubscribe_token(subscribed_alice, topic),
        preferences_token(subscribed_alice),
        confirm_token(confirmation),
    ]


def mangle(token: str, cut: int, extra: str) -> str:
    """A near-miss of a real token: truncated and/or with junk appended."""
    return token[: max(1, len(token) - cut)] + extra


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    raw=st.one_of(printable_text, url_safe_text),
    cut=st.integers(min_value=0, max_value=30),
    use_real=st.booleans(),
    which=st.integers(min_value=0, max_value=2),
    page=st.sampled_from(PAGES),
    method=st.sampled_from(["get", "post"]),
    body=BODIES,
)
def test_it_never_fails_or_changes_anything_on_arbitrary_tokens(
    db_snapshot, valid_tokens, raw, cut, use_real, which, page, method, body
):
    token = mangle(valid_tokens[which], cut, raw) if use_real else raw
    assume(token not in valid_tokens)
    client = Client()
    before = db_snapshot()
    path = f"/{page}/{quote(token, safe='')}/"
    response = client.get(path) if method == "get" else client.post(path, body)
    assert response.status_code < 500
    if response.status_code < 400:
        # A mangled token that still verifies would be a signing bug; it never happens.
        pytest.fail(f"{path} answered {response.status_code}")
    assert db_snapshot() == before


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    email=printable_text, topic=printable_text, page=st.sampled_from(["subscribe", "preferences"])
)
def test_it_never_fails_on_arbitrary_form_input(db_snapshot, fresh_rate_limits, email, topic, page):
    cache.clear()  # each example starts with a fresh rate-limit window
    response = Client().post(f"/{page}/", {"email": email, "topics": topic, "consent": "on"})
    assert response.status_code < 500
