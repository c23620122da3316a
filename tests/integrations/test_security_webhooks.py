"""Webhook URLs cannot reach the internal network (SSRF), written as the attacks: an API key
holder points an endpoint at loopback, a private range, the cloud metadata address, an
IPv4-mapped IPv6 loopback, a hostname that resolves to loopback, or another scheme."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from subscriptions.integrations.endpoints import UrlNotAllowed, address_is_public, url_vet
from subscriptions.models import WebhookEndpoint

ATTACKS = [
    "http://127.0.0.1:8000/admin/",
    "http://127.1/",
    "http://0.0.0.0/",
    "http://10.0.0.5/hook",
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "http://localhost/",
    "http://224.0.0.1/",
    "https://240.0.0.1/",
]


@pytest.mark.parametrize("url", ATTACKS)
def test_it_refuses_an_endpoint_on_a_private_network(api, url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    response = api.post("/api/v1/webhooks/", {"url": url, "events": ["subscription.changed"]})
    assert response.status_code == 400
    assert response.json()["error"] == "url_not_allowed"
    assert WebhookEndpoint.objects.count() == 0


def test_it_refuses_a_public_looking_name_that_resolves_to_loopback(api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    name = socket.gethostname()
    if not socket.gethostbyname(name).startswith("127."):
        pytest.fail(f"this machine's name {name} must resolve to loopback for this test")
    response = api.post(
        "/api/v1/webhooks/", {"url": f"https://{name}/hook", "events": ["contact.erased"]}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "url_not_allowed"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
        "javascript:alert(1)",
        "//example.com/",
        "http://user:pw@203.0.113.7/",
        "http://[::1/",
        "",
        "http://exa mple.com/",
        "http://" + "a" * 300 + ".example/",
        "http://example.com:99999/",
        "http://%00/",
        "http://\u2028.example/",
        "http://[v1.fe80::a+en1]/",
    ],
)
def test_it_refuses_what_is_not_an_http_url(api, url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    response = api.post("/api/v1/webhooks/", {"url": url, "events": ["contact.erased"]})
    assert response.status_code == 400
    assert response.json()["error"] in {"url_not_allowed", "invalid"}
    assert WebhookEndpoint.objects.count() == 0


def test_the_private_networks_setting_lets_a_loopback_receiver_in(api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    response = api.post(
        "/api/v1/webhooks/", {"url": "http://127.0.0.1:9/hook", "events": ["contact.erased"]}
    )
    assert response.status_code == 201


def test_a_mixed_answer_is_refused_whole():
    assert address_is_public("203.0.113.7") is False  # documentation range: reserved
    assert address_is_public("8.8.8.8") is True
    assert address_is_public("2001:4860:4860::8888") is True
    assert address_is_public("::ffff:8.8.8.8") is True
    assert address_is_public("::ffff:10.0.0.1") is False


def test_the_vetted_address_is_the_one_connected_to(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    target = url_vet("http://localhost:8080/a/b?c=d")
    assert (target.host, target.port, target.path) == ("localhost", 8080, "/a/b?c=d")
    assert target.address in {"127.0.0.1", "::1"}


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=80),
        st.builds(lambda rest: "http://" + rest, st.text(max_size=60)),
        st.builds(lambda rest: "https://[" + rest, st.text(max_size=40)),
    )
)
def test_any_text_is_vetted_or_refused_never_crashes(url):
    try:
        target = url_vet(url)
    except UrlNotAllowed:
        return
    assert address_is_public(target.address)
