"""Issue 14: the preference page inside the host product's profile page (`?embed=1`)."""

from __future__ import annotations

import re
import time
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles import finders
from django.template import Context, Template
from django.test import Client

from subscriptions.consent.tokens import preferences_url
from subscriptions.integrations.links import preference_link_create

pytestmark = pytest.mark.django_db

APP = "https://app.example.com"
LOCAL_APP = "http://localhost:3000"


@pytest.fixture(autouse=True)
def host_origins(settings):
    settings.PREFERENCE_LINK_ORIGINS = [APP, LOCAL_APP]
    settings.SITE_URL = "http://testserver"


def directives(response) -> dict[str, list[str]]:
    parts = [p.split() for p in response["Content-Security-Policy"].split(";") if p.strip()]
    return {p[0]: p[1:] for p in parts}


def host_path(contact, **kwargs) -> str:
    return urlsplit(preference_link_create(contact=contact, **kwargs).url).path


def test_the_embedded_page_may_be_framed_by_the_host_origins_only(subscribed_alice):
    response = Client().get(f"{host_path(subscribed_alice)}?embed=1")

    assert response.status_code == 200
    assert directives(response)["frame-ancestors"] == [APP, LOCAL_APP]
    assert "X-Frame-Options" not in response
    # The rest of the policy stays as strict as everywhere else.
    assert directives(response)["script-src"][0] == "'self'"
    assert "'unsafe-inline'" not in directives(response)["script-src"]


def test_the_embedded_page_has_no_chrome_and_reports_its_height(subscribed_alice):
    html = Client().get(f"{host_path(subscribed_alice)}?embed=1").content.decode()

    assert "site-header" not in html
    assert "site-footer" not in html
    assert 'class="embedded"' in html
    script = re.search(r'<script src="([^"]+embed\.js)" data-parent-origins="([^"]*)"', html)
    assert script and script[2] == f"{APP} {LOCAL_APP}"
    assert finders.find("subscriptions/embed.js")
    # No inline script: the page's own CSP would block it.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)


@pytest.mark.parametrize("query", ["", "?embed=0"])
def test_the_same_link_without_embed_is_never_framed(subscribed_alice, query):
    response = Client().get(f"{host_path(subscribed_alice)}{query}")
    assert directives(response)["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"
    assert "site-header" in response.content.decode()


def test_a_mailed_link_is_never_framed_even_with_embed(subscribed_alice):
    path = urlsplit(preferences_url(subscribed_alice)).path
    response = Client().get(f"{path}?embed=1")
    assert directives(response)["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"


def test_nothing_may_frame_the_page_when_no_origin_is_configured(subscribed_alice, settings):
    settings.PREFERENCE_LINK_ORIGINS = []
    response = Client().get(f"{host_path(subscribed_alice)}?embed=1")
    assert directives(response)["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/subscribe/", "/preferences/", "/admin/login/"])
def test_every_other_page_stays_unframeable(client, path):
    response = client.get(f"{path}?embed=1")
    assert directives(response)["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"


def test_the_embedded_privacy_buttons_open_a_new_tab(subscribed_alice):
    """Their verification needs a first-party session; a framed page has none."""
    path = host_path(subscribed_alice)
    html = Client().get(f"{path}?embed=1").content.decode()
    assert f'href="{path}" target="_blank" rel="noopener"' in html
    assert "/privacy/request/" not in html
    assert "/privacy/request/" in Client().get(path).content.decode()


def test_the_template_tag_frames_a_fresh_link(subscribed_alice):
    template = Template(
        "{% load prefcenter %}{% prefcenter_preferences_iframe contact return_url=back %}"
    )
    html = template.render(Context({"contact": subscribed_alice, "back": f"{APP}/profile"}))

    src = re.search(r'<iframe src="([^"]+)"', html)[1].replace("&amp;", "&")
    assert src.startswith("http://testserver/preferences/") and src.endswith("?embed=1")
    assert "data-prefcenter-preferences" in html
    assert 'src="http://testserver/static/subscriptions/embed-host.js"' in html
    response = Client().get(urlsplit(src).path + "?embed=1")
    assert response.status_code == 200
    assert directives(response)["frame-ancestors"] == [APP, LOCAL_APP]


def test_the_template_tag_leaves_out_a_return_url_off_the_list(subscribed_alice):
    template = Template(
        "{% load prefcenter %}{% prefcenter_preferences_iframe contact return_url=back %}"
    )
    html = template.render(
        Context({"contact": subscribed_alice, "back": "https://evil.example.net/"})
    )
    src = re.search(r'<iframe src="([^"]+)"', html)[1]
    assert Client().get(urlsplit(src).path).status_code == 200
    assert "evil" not in Client().get(urlsplit(src).path).content.decode()


def test_an_expired_link_in_the_frame_says_how_to_get_a_fresh_one_inside_it(subscribed_alice):
    path = host_path(subscribed_alice)
    with mock.patch("django.core.signing.time.time", return_value=time.time() + 25 * 3600):
        response = Client().get(f"{path}?embed=1")

    assert response.status_code == 410
    html = response.content.decode()
    assert "This link has expired" in html
    assert "open your email preferences" in html
    assert "site-header" not in html
    assert 'target="_blank"' in html
    assert directives(response)["frame-ancestors"] == [APP, LOCAL_APP]
    assert "X-Frame-Options" not in response
