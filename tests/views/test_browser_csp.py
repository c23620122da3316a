"""A strict Content-Security-Policy on pages, admin and API docs, in a real browser.

The page fixture (tests.support.browser) fails any test on a CSP violation; these tests also
check that the API docs load nothing from another origin and still render.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def foreign_loads(page, origin: str) -> list[str]:
    """URLs of another origin the page actually received an answer from."""
    seen: list[str] = []

    def on_response(response) -> None:
        if not response.url.startswith((origin, "data:", "blob:")):
            seen.append(response.url)

    page.on("response", on_response)
    return seen


def test_it_renders_redoc_with_no_remote_origin_and_no_csp_violation(
    transactional_db, live_server, page, csp_violations, csp_expected
):
    # Redoc's bundle hard-codes its vendor's logo from a CDN (and hides it when it fails): the
    # policy blocks it, the one violation this page is expected to show.
    csp_expected.append(REDOC_LOGO)
    foreign = foreign_loads(page, live_server.url)
    page.goto(f"{live_server.url}/api/redoc/")
    expect(page.get_by_role("heading", name="prefcenter API").first).to_be_visible()
    expect(page.get_by_text("/api/v1/topics/").first).to_be_attached()
    page.wait_for_load_state("networkidle")
    assert foreign == []  # no Google Fonts, no CDN: the logo never loaded
    assert all(REDOC_LOGO in v for v in csp_violations if "img-src" in v)


def test_it_renders_swagger_ui_with_no_remote_origin_and_no_csp_violation(
    transactional_db, live_server, page
):
    foreign = foreign_loads(page, live_server.url)
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.get_by_text("prefcenter API").first).to_be_visible()
    expect(page.get_by_text("/api/v1/topics/").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert foreign == []


def test_it_shows_the_public_forms_without_csp_violations(transactional_db, live_server, page):
    for path in ("/subscribe/", "/preferences/"):
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("form").first).to_be_visible()


def test_it_shows_the_admin_login_without_csp_violations(transactional_db, live_server, page):
    page.goto(f"{live_server.url}/admin/login/")
    expect(page.get_by_label("Username")).to_be_visible()
