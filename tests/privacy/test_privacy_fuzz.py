"""Property test: arbitrary strings at the privacy links never cause a 5xx or a change."""

from __future__ import annotations

import string

from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subscriptions.consent import tokens
from subscriptions.models import ConsentEvent, Contact, PrivacyRequest
from subscriptions.privacy.rights import privacy_request_start

URL_SAFE = string.ascii_letters + string.digits + "-_.:~"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    cut=st.integers(min_value=0, max_value=40),
    extra=st.text(alphabet=URL_SAFE, max_size=20),
    action=st.sampled_from(["export", "erase"]),
    method=st.sampled_from(["get", "post"]),
)
def test_it_never_fails_on_mangled_privacy_links(subscribed_alice, cut, extra, action, method):
    request = PrivacyRequest.objects.filter(contact=subscribed_alice, action=action).first()
    if request is None:
        request = privacy_request_start(contact=subscribed_alice, action=action)
    real = tokens.privacy_token(subscribed_alice, action, request.nonce)
    mangled = real[: max(1, len(real) - cut)] + extra
    if mangled == real:
        mangled += "x"
    path = "download" if action == "export" else "erase"
    events = ConsentEvent.objects.count()
    response = getattr(Client(), method)(f"/privacy/{path}/{mangled}/")
    assert 400 <= response.status_code < 500
    assert ConsentEvent.objects.count() == events
    assert Contact.objects.get(pk=subscribed_alice.pk).erased_at is None
    request.refresh_from_db()
    assert request.used_at is None
