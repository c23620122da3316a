"""PREFERENCE_LINK_ORIGINS is read as browsers write origins, and a wrong one stops the start."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from prefcenter.settings import env_origins
from subscriptions.integrations.links import url_origin


def test_it_reads_origins_as_browsers_write_them(monkeypatch):
    monkeypatch.setenv(
        "PREFERENCE_LINK_ORIGINS",
        "https://App.Example.com, https://app.example.com:443/, http://localhost:3000,"
        "http://[::1]:8080",
    )

    assert env_origins("PREFERENCE_LINK_ORIGINS") == [
        "https://app.example.com",
        "https://app.example.com",
        "http://localhost:3000",
        "http://[::1]:8080",
    ]


def test_no_origin_by_default(monkeypatch):
    monkeypatch.delenv("PREFERENCE_LINK_ORIGINS", raising=False)
    assert env_origins("PREFERENCE_LINK_ORIGINS") == []


@pytest.mark.parametrize(
    "value",
    [
        "app.example.com",
        "https://app.example.com/profile",
        "ftp://app.example.com",
        "https://user@app.example.com",
        "https://app.example.com:99999",
        "https://app.example.com?x=1",
        "*",
    ],
)
def test_it_refuses_to_start_with_something_that_is_not_an_origin(monkeypatch, value):
    monkeypatch.setenv("PREFERENCE_LINK_ORIGINS", value)
    with pytest.raises(ImproperlyConfigured, match="PREFERENCE_LINK_ORIGINS"):
        env_origins("PREFERENCE_LINK_ORIGINS")


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://app.example.com/settings?tab=email", "https://app.example.com"),
        ("https://APP.example.com:443/", "https://app.example.com"),
        ("http://localhost:3000/profile", "http://localhost:3000"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
        ("https://evil.example.net\\@app.example.com/", None),
        ("https://a@app.example.com/", None),
        ("javascript:alert(1)", None),
        ("/relative", None),
        ("https://app.example.com:notaport/", None),
        ("https://app.example.com/ space", None),
    ],
)
def test_a_return_url_has_the_origin_a_browser_would_give_it(url, origin):
    assert url_origin(url) == origin
