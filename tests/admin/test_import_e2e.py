"""End to end: staff upload a list in the console, a real `celery -A prefcenter worker` runs it,
the run's page follows it live to the end, and the report downloads as CSV; in Chromium, also
at phone width."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from prefcenter.celery import app
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import subscription_subscribe, subscription_unsubscribe
from subscriptions.models import Import, Subscription
from tests.factories import ContactFactory
from tests.support.database import database_url as role_database_url

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))
ROWS = 3000


@pytest.fixture
def worker(transactional_db):
    """One worker on the marketing queue (where imports run), on the test database."""
    app.control.purge()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prefcenter.test_settings",
        "DATABASE_URL": role_database_url("app"),
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [
            CELERY,
            "-A",
            "prefcenter",
            "worker",
            "-Q",
            "marketing",
            "--pool=solo",
            "-l",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    app.control.purge()


def press(locator, key: str = "Enter") -> None:
    locator.focus()
    locator.press(key)


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        "ida", password="pw-ida-staff-123", is_staff=True, is_superuser=True
    )


def log_in(page, site_url: str, next_path: str) -> None:
    page.goto(f"{site_url}{reverse('admin:login')}?next={next_path}")
    page.get_by_label("Username").fill("ida")
    page.get_by_label("Password").fill("pw-ida-staff-123")
    press(page.get_by_role("button", name="Log in"))


def contact_list(tmp_path: Path) -> Path:
    lines = ["email,external_id"]
    lines += [f"person{i}@example.com,crm-{i}" for i in range(ROWS)]
    lines += ["gone@example.com,", "=HYPERLINK(1),", "not an address,"]
    path = tmp_path / "contacts.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_it_imports_an_uploaded_list_with_live_progress_and_a_report(
    worker, site_url, page, staff, topic, tmp_path
):
    gone = ContactFactory(email="gone@example.com")
    subscription_subscribe(contact=gone, topic=topic, by=Actor(source="subscribe_form"))
    subscription_unsubscribe(contact=gone, topic=topic, by=Actor(source="one_click"))
    log_in(page, site_url, reverse("admin:subscriptions_import_add"))

    page.get_by_label("CSV file").set_input_files(str(contact_list(tmp_path)))
    press(page.get_by_label("Subscribe to a topic"), "Space")
    page.get_by_label("Topic", exact=True).select_option(label=str(topic))
    page.get_by_label("Source").fill("Trade fair 2026")
    press(page.get_by_role("button", name="Import"))

    # The run's page follows the worker by itself (no reload by the test) until the run is done.
    run = Import.objects.get()
    expect(page).to_have_url(f"{site_url}/admin/subscriptions/import/{run.pk}/change/")
    progress = page.locator("#import-progress")
    expect(progress).to_have_attribute("data-finished", "true", timeout=90_000)
    expect(progress.locator('[data-field="status"]')).to_have_text("Done")
    expect(progress.locator('[data-field="percent"]')).to_have_text("100 %")
    expect(progress.locator('[data-count="subscribed"]')).to_have_text(str(ROWS))
    expect(progress.locator('[data-count="kept_unsubscribed"]')).to_have_text("1")
    expect(progress.locator('[data-count="invalid"]')).to_have_text("2")
    assert Subscription.objects.filter(topic=topic, status="subscribed").count() == ROWS
    assert Subscription.objects.get(contact=gone).status == "unsubscribed"

    with page.expect_download() as download_info:
        press(page.get_by_role("link", name="Download the report (CSV)"))
    report = Path(download_info.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(report)))
    assert {row["outcome"] for row in rows} == {"invalid", "kept_unsubscribed"}
    assert not any(row["email"].startswith(("=", "+", "-", "@")) for row in rows)


def test_it_shows_a_refused_file_at_the_field_at_phone_width(
    transactional_db, site_url, page, staff, topic, tmp_path
):
    page.set_viewport_size({"width": 375, "height": 740})
    log_in(page, site_url, reverse("admin:subscriptions_import_add"))
    no_email = tmp_path / "names.csv"
    no_email.write_text("name,phone\nAnn,1\n", encoding="utf-8")

    # Only the chosen mode's fields show.
    expect(page.get_by_label("Reason for the suppression")).to_be_hidden()
    press(page.get_by_label("Add to the suppression list (hashes only)"), "Space")
    expect(page.get_by_label("Reason for the suppression")).to_be_visible()
    expect(page.get_by_label("Topic", exact=True)).to_be_hidden()
    press(page.get_by_label("Subscribe to a topic"), "Space")

    page.get_by_label("CSV file").set_input_files(str(no_email))
    page.get_by_label("Topic", exact=True).select_option(label=str(topic))
    page.get_by_label("Source").fill("names")
    press(page.get_by_role("button", name="Import"))

    expect(page.locator(".errors").filter(has_text="email")).to_be_visible()
    assert not Import.objects.exists()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
