"""Every console page passes axe-core (no critical or serious violation) at desktop and phone
width, with no Content-Security-Policy violation (the page fixture fails on those).

The pages are discovered from the admin site's registry: the dashboard, and each registered
model's list, add page and the change page of its first row, so a page another branch
registers is checked without touching this test. A screenshot of each is saved under
var/screenshots/console/<width>/ (gitignored).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse

from subscriptions.api.keys import api_key_create
from tests.support.browser import axe

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "console"
WIDTHS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 812}}
PASSWORD = "pw-ada-console-123"


@pytest.fixture
def console_data(transactional_db, django_user_model):
    call_command("seed_demo", verbosity=0)
    api_key_create(name="crm-sync", scopes=["read"])
    return django_user_model.objects.create_superuser("ada", "ada@example.com", PASSWORD)


def console_pages() -> list[tuple[str, str]]:
    """(name, path) of the dashboard, every registered list, add page and first change page."""
    pages = [
        ("dashboard", reverse("admin:index")),
        ("password_change", reverse("admin:password_change")),
    ]
    for model, _model_admin in sorted(
        admin.site._registry.items(), key=lambda item: item[0]._meta.label
    ):
        opts = model._meta
        prefix = f"admin:{opts.app_label}_{opts.model_name}"
        try:
            pages.append((f"{opts.model_name}_list", reverse(f"{prefix}_changelist")))
            pages.append((f"{opts.model_name}_add", reverse(f"{prefix}_add")))
        except NoReverseMatch:
            continue
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            pages.append(
                (f"{opts.model_name}_change", reverse(f"{prefix}_change", args=[first.pk]))
            )
    return pages


def check(page, name: str, width: str) -> list[dict]:
    folder = SCREENSHOTS / width
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))  # the viewport: what a person sees first
    return axe(page)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_it_passes_axe_on_every_console_page(width, console_data, site_url, browser, page):
    page.set_viewport_size(WIDTHS[width])
    problems: dict[str, object] = {}

    page.goto(f"{site_url}{reverse('admin:login')}?next={reverse('admin:index')}")
    problems["login"] = check(page, "login", width)
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site_url}{reverse('admin:index')}")

    visited = 0
    for name, path in console_pages():
        response = page.goto(f"{site_url}{path}")
        if response.status == 403:
            continue  # a page nobody may open (e.g. adding a ledger row): nothing to see
        if response.status >= 400:
            problems[name] = f"{path} answered {response.status}"
            continue
        visited += 1
        problems[name] = check(page, name, width)

    failing = {name: found for name, found in problems.items() if found}
    (SCREENSHOTS / width / "axe.json").write_text(json.dumps(failing, indent=2))
    assert visited > 20  # the registry walk found the console's pages
    assert failing == {}
