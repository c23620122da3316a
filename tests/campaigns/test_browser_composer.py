"""A marketer composes a campaign in the admin with the rich-text editor and the merge-field picker."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from subscriptions.models import Campaign, EmailLayout
from tests.factories import ContactFactory
from tests.support.browser import ARTIFACTS

pytestmark = pytest.mark.browser


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        "sam", password="pw-sam-staff-123", is_staff=True, is_superuser=True
    )


def test_a_marketer_writes_a_campaign_in_the_editor_and_inserts_a_merge_field(
    transactional_db, site_url, page, staff, topic, client
):
    ContactFactory(attributes={"first_name": "Ada"})
    brand = EmailLayout.objects.create(name="Brand", is_default=True)
    client.force_login(staff)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": site_url}])
    page.goto(f"{site_url}{reverse('admin:subscriptions_campaign_add')}")

    # Until the theme's scripts run under the site's CSP, its hidden overlays (search, modals)
    # cover the page: the test focuses and dispatches clicks instead of pointing at them.
    page.locator("#id_name").fill("Spring")
    page.locator("#id_topic").select_option(label="Product news")
    page.locator("#id_subject").fill("Spring news")
    editor = page.locator(".ProseMirror[contenteditable]")
    expect(editor).to_be_visible()
    editor.focus()
    page.keyboard.type("Hello ")
    page.locator('[data-merge-field="{{ contact.attributes.first_name }}"]').dispatch_event("click")
    page.keyboard.type(", spring is here.")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "campaign-composer.png"), full_page=True)
    with page.expect_navigation():
        page.locator('button[name="_save"], input[name="_save"]').first.dispatch_event("click")

    campaign = Campaign.objects.get(name="Spring")
    assert campaign.body_format == "rich"
    assert "Hello {{ contact.attributes.first_name }}, spring is here." in campaign.html_body
    assert campaign.layout == brand  # new campaigns start in the default layout
