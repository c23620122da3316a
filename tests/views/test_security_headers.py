"""The Content-Security-Policy every page, the admin and the API docs answer with (road 11)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    parts = [p.split() for p in header.split(";") if p.strip()]
    return {p[0]: p[1:] for p in parts}


@pytest.mark.parametrize("path", ["/subscribe/", "/preferences/", "/api/redoc/", "/api/docs/"])
def test_it_sends_a_strict_policy(client, path):
    response = client.get(path)
    assert response.status_code == 200
    csp = directives(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    for directive in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in csp[directive]
        assert "'unsafe-eval'" not in csp[directive]
    assert not any("http" in source for values in csp.values() for source in values)


def test_the_console_loosens_only_what_its_theme_needs(client):
    """unfold's Alpine.js evaluates its attributes (eval) and writes the brand palette in an
    inline style: the staff console alone allows those two. An inline <script> still needs the
    nonce, nothing loads from another site but the https logo, and nobody may frame it."""
    public = directives(client.get("/subscribe/"))
    console = directives(client.get("/admin/login/"))
    assert console["default-src"] == ["'self'"]
    assert console["object-src"] == ["'none'"]
    assert console["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in console["script-src"]
    assert "'unsafe-eval'" in console["script-src"]
    assert "'unsafe-eval'" not in public["script-src"]
    assert set(console["img-src"]) - set(public.get("img-src", [])) <= {"https:"}


@pytest.mark.parametrize("path", ["/api/redoc/", "/api/docs/"])
def test_it_runs_only_nonced_inline_code_on_the_docs_pages(client, path):
    response = client.get(path)
    body = response.content.decode()
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    inline = re.findall(r"<(script|style)(?![^>]*\bsrc=)([^>]*)>", body)
    assert inline
    assert all(f'nonce="{nonce}"' in attrs for _tag, attrs in inline)
    assert "fonts.googleapis.com" not in body
    assert "fonts.gstatic.com" not in body


def test_it_uses_a_fresh_nonce_per_response(client):
    first = client.get("/api/redoc/")["Content-Security-Policy"]
    second = client.get("/api/redoc/")["Content-Security-Policy"]
    assert first != second
