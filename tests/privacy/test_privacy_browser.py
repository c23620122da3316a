"""A person downloads their data, then erases it, in a real browser (Debian's Chromium)."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection

from subscriptions.consent import tokens
from subscriptions.consent.ledger import Actor, record
from subscriptions.mail.transactional import deliver
from subscriptions.models import ConsentEvent, Contact, TransactionalMessage
from tests.factories import ContactFactory, SubscriptionFactory, TopicFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_page(browser):
    """A page of the shared session browser that accepts downloads."""
    context = browser.new_context(accept_downloads=True, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _follow_emailed_link(kind: str) -> str:
    """Do what the transactional worker does, then read the link from the sent mail."""
    message = TransactionalMessage.objects.filter(kind=kind).latest("created_at")
    assert deliver(message.pk)
    message.refresh_from_db()
    return re.search(r"https?://\S+/privacy/\S+/", message.text_body).group(0)


@pytest.fixture
def close_greenlet_connection():
    """Playwright's sync API runs the test in a greenlet with its own context, so ORM calls made
    there open a connection of their own; close it, or the test database cannot be dropped."""
    yield
    connection.close()


def test_it_downloads_then_erases_a_persons_data(
    live_server, settings, browser_page, tmp_path, close_greenlet_connection
):
    settings.SITE_URL = live_server.url
    topic = TopicFactory(slug="product-news", name="Product news")
    person = ContactFactory(email="dana@example.com")
    SubscriptionFactory(contact=person, topic=topic)
    record(contact=person, topic=topic, action="subscribed", by=Actor(source="subscribe_form"))
    preferences = f"{live_server.url}/preferences/{tokens.preferences_token(person)}/"
    page = browser_page

    page.goto(preferences)
    page.get_by_role("button", name="Download my data").click()
    page.get_by_role("heading", name="Check your email").wait_for()

    page.goto(_follow_emailed_link("privacy_export"))
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download my data (JSON)").click()
    target = tmp_path / "data.json"
    download_info.value.save_as(target)
    data = json.loads(target.read_text())
    assert data["contact"]["email"] == "dana@example.com"
    assert len(data["consent_events"]) == ConsentEvent.objects.filter(contact=person).count()

    page.goto(preferences)
    page.get_by_role("button", name="Erase my data").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    page.goto(_follow_emailed_link("privacy_erase"))
    page.get_by_role("button", name="Yes, erase my data").click()
    page.get_by_role("heading", name="Your data has been erased").wait_for()
    assert Contact.objects.get(pk=person.pk).erased_at is not None

    response = page.goto(preferences)
    assert response.status == 410
    assert page.get_by_role("heading", name="This link is no longer valid").is_visible()
