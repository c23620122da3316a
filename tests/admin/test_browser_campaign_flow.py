"""Bar 1 of issue 12, in a real browser against a real worker and beat: compose → preview at
phone width → test send (its links are inert) → review shows the audience → schedule in a time
zone → it starts on time and is sent → the report shows it sent and one unsubscribe through it.

Screenshots of each step go to var/screenshots/campaign-flow/ (gitignored)."""

from __future__ import annotations

import datetime
import re
import zoneinfo
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from subscriptions.models import Campaign, ConsentEvent, Subscription, TestList
from subscriptions.models.choices import CampaignStatus
from tests.campaigns.test_schedule_stats_e2e import celery_processes, wait_for  # noqa: F401
from tests.sending_factories import subscribers
from tests.support.browser import axe

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "campaign-flow"
ZONE = "Europe/Copenhagen"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        "mia", password="pw-mia-marketer-123", is_staff=True, is_superuser=True
    )


def shoot(page: Page, step: str) -> None:
    """Save the step's screenshot and hold the page to the console's accessibility bar (axe-core:
    no critical or serious violation)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{step}.png"), full_page=True)
    assert axe(page) == [], step


def compose(page: Page, site_url: str, *, name: str, topic: str, subject: str, body: str) -> None:
    """Write a new campaign in the Edit step, in the rich-text editor, with a merge field picked
    from the list beside it, and save it."""
    page.goto(site_url + reverse("admin:subscriptions_campaign_add"))
    page.locator("#id_name").fill(name)
    page.locator("#id_topic").select_option(label=topic)
    page.locator("#id_subject").fill(subject)
    editor = page.locator(".ProseMirror[contenteditable]")
    expect(editor).to_be_visible()
    editor.click()
    page.keyboard.type(f"{body} ")
    page.locator('[data-merge-field="{{ topic.name }}"]').click()
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".pc-steps")).to_be_visible()


def one_click_path(raw: bytes) -> str:
    header = re.search(rb"List-Unsubscribe:\s*<(https?://[^>]+)>", raw)
    assert header, raw[:2000]
    # A long header may come folded: the URL has no whitespace of its own.
    return urlsplit(re.sub(r"\s+", "", header.group(1).decode())).path


def test_a_marketer_composes_previews_tests_schedules_and_reads_the_report(
    transactional_db,
    site_url,
    page,
    staff,
    topic,
    outbox,
    smtp,
    celery_processes,  # noqa: F811
):
    _port, sink = smtp
    ann, bob = subscribers(topic, 2)
    ann.locale = "da"
    ann.save()
    TestList.objects.create(name="QA team", addresses=["qa@example.com"])
    celery_processes.worker()
    celery_processes.beat()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{site_url}{reverse('admin:login')}")
    page.get_by_label("Username").fill("mia")
    page.get_by_label("Password").fill("pw-mia-marketer-123")
    page.get_by_role("button", name="Log in").click()

    # 1. Edit
    compose(
        page,
        site_url,
        name="Spring news",
        topic="Product news",
        subject="Spring is here",
        body="Our spring collection.",
    )
    campaign = Campaign.objects.get(name="Spring news")
    shoot(page, "1-edit")

    # 2. Preview, as a chosen contact, at phone width
    page.locator(".pc-buttons").get_by_role("link", name="Preview").click()
    page.get_by_label("Preview as").fill(ann.email)
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("in their language (da)")).to_be_visible()
    expect(page.locator("#preview-subject")).to_have_text("Spring is here")
    page.set_viewport_size({"width": 390, "height": 844})
    phone = page.locator("#preview-phone")
    phone.scroll_into_view_if_needed()
    expect(phone).to_be_visible()
    assert phone.bounding_box()["width"] <= 390
    expect(
        page.frame_locator("#preview-phone").get_by_text("Our spring collection.")
    ).to_contain_text("Product news")
    shoot(page, "2-preview-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # 3. Send a test to the saved list: its links are inert
    page.get_by_label("Test list").select_option(label="QA team")
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_text("Test sent to qa@example.com.")).to_be_visible()
    shoot(page, "3-test-sent")
    (test_mail,) = outbox
    assert test_mail.subject == "[Test] Spring is here"
    test_link = urlsplit(test_mail.extra_headers["List-Unsubscribe"].strip("<>")).path
    page.goto(site_url + test_link)
    expect(page.get_by_role("heading", name="This was a test message")).to_be_visible()
    shoot(page, "3-test-link")
    answer = Client(enforce_csrf_checks=True).post(test_link, {"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert not ConsentEvent.objects.exists()
    assert set(Subscription.objects.values_list("status", flat=True)) == {"subscribed"}

    # 4. Review: the audience counted now
    page.goto(site_url + reverse("admin:subscriptions_campaign_change", args=[campaign.pk]))
    page.get_by_role("link", name="Review & send").click()
    expect(page.locator("#audience-count")).to_have_text("2 contacts would get this campaign now.")
    shoot(page, "4-review")

    # 5. Schedule in a time zone, a few seconds ahead (beat sweeps every 5 s in this test)
    at = (timezone.now() + datetime.timedelta(seconds=25)).replace(microsecond=0)
    local = at.astimezone(zoneinfo.ZoneInfo(ZONE))
    form = page.locator("#schedule-form")
    form.get_by_label("Date").fill(f"{local:%Y-%m-%d}")
    form.get_by_label("Time", exact=True).fill(f"{local:%H:%M:%S}")
    form.get_by_label("Time zone").select_option(ZONE)
    form.get_by_role("button", name="Schedule").click()
    expect(page.locator("#campaign-schedule")).to_have_text(
        f"Scheduled for {local:%Y-%m-%d %H:%M} {ZONE}"
    )
    shoot(page, "5-scheduled")
    campaign.refresh_from_db()
    assert (campaign.status, campaign.scheduled_at) == (CampaignStatus.SCHEDULED, at)

    # 6. It starts on time and is sent
    wait_for(
        lambda: Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT,
        60,
        "the scheduled campaign to be sent",
    )
    campaign.refresh_from_db()
    assert at <= campaign.started_at <= at + datetime.timedelta(seconds=60)
    wait_for(lambda: len(sink.messages()) == 2, 10, "the mail to arrive")
    assert sorted(sink.recipients()) == sorted([ann.email, bob.email])

    # 7. One recipient unsubscribes with their mail client's one-click button
    raw = next(m for r, m in sink.messages() if r == bob.email)
    one_click = Client(enforce_csrf_checks=True).post(
        one_click_path(raw), {"List-Unsubscribe": "One-Click"}
    )
    assert one_click.status_code == 200

    # 8. The report
    page.goto(site_url + reverse("admin:subscriptions_campaign_change", args=[campaign.pk]))
    page.locator(".pc-buttons").get_by_role("link", name="Report").click()
    expect(page.locator("#figure-sent")).to_have_text("2")
    expect(page.locator("#figure-unsubscribed")).to_have_text("1")
    expect(page.get_by_text("Apple Mail Privacy Protection")).to_be_visible()
    shoot(page, "6-report")
