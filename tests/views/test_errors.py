"""views.errors: every public page refuses with the same styled page, whichever module answers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from subscriptions.consent.tokens import (
    preferences_token,
    privacy_request_token,
    unsubscribe_token,
)
from subscriptions.privacy.erasure import contact_erase

pytestmark = pytest.mark.usefixtures("fresh_rate_limits")

GONE_TITLE = "This link is no longer valid"
BROKEN_TITLE = "This link does not work"


def test_it_answers_every_link_of_an_erased_contact_with_the_same_gone_page(
    client, subscribed_alice, topic, actor
):
    links = {
        "unsubscribe": (
            "get",
            reverse("unsubscribe", args=[unsubscribe_token(subscribed_alice, topic)]),
        ),
        "preferences": ("get", reverse("preferences", args=[preferences_token(subscribed_alice)])),
        "privacy": (
            "post",
            reverse("privacy_request", args=["export", privacy_request_token(subscribed_alice)]),
        ),
    }
    contact_erase(contact=subscribed_alice, by=actor)
    for name, (method, url) in links.items():
        response = getattr(client, method)(url)
        assert response.status_code == 410, name
        assert response.templates[0].name == "subscriptions/error.html", name
        assert GONE_TITLE in response.content.decode(), name


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/unsubscribe/not-a-token/"),
        ("get", "/preferences/not-a-token/"),
        ("get", "/confirm/not-a-token/"),
        ("post", "/privacy/request/export/not-a-token/"),
        ("get", "/privacy/download/not-a-token/"),
    ],
)
def test_it_answers_a_mangled_link_with_the_styled_404_page(client, db, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 404
    assert response.templates[0].name == "subscriptions/error.html"
    assert BROKEN_TITLE in response.content.decode()
