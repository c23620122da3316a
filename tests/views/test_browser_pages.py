"""A person in a real browser (headless Chromium) unsubscribes and changes preferences."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from subscriptions.consent.tokens import preferences_url, unsubscribe_url
from subscriptions.models import ConsentEvent, Subscription

pytestmark = pytest.mark.browser


def status(contact, topic) -> str | None:
    subscription = Subscription.objects.filter(contact=contact, topic=topic).first()
    return subscription.status if subscription else None


def test_it_unsubscribes_with_the_button_behind_an_email_link(
    transactional_db, site_url, page, subscribed_alice, topic
):
    page.goto(unsubscribe_url(subscribed_alice, topic))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Product news")
    # Opening the page (as a link scanner would) changes nothing.
    assert status(subscribed_alice, topic) == "subscribed"

    page.get_by_role("button", name="Unsubscribe", exact=True).click()

    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    expect(page.get_by_text("Product news")).to_be_visible()
    assert status(subscribed_alice, topic) == "unsubscribed"
    event = ConsentEvent.objects.get(contact=subscribed_alice)
    assert (event.action, event.source) == ("unsubscribed", "unsubscribe_link")


def test_it_saves_two_topic_changes_on_the_preference_page(
    transactional_db, site_url, page, subscribed_alice, topic, other_topic
):
    page.goto(preferences_url(subscribed_alice))
    product_news = page.get_by_role("checkbox", name="Product news")
    weekly_digest = page.get_by_role("checkbox", name="Weekly digest")
    expect(product_news).to_be_checked()
    expect(weekly_digest).not_to_be_checked()

    product_news.uncheck()
    weekly_digest.check()
    page.get_by_role("button", name=re.compile("save", re.IGNORECASE)).click()

    expect(page.get_by_role("checkbox", name="Weekly digest")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Product news")).not_to_be_checked()
    assert status(subscribed_alice, topic) == "unsubscribed"
    assert status(subscribed_alice, other_topic) == "subscribed"
    events = ConsentEvent.objects.filter(contact=subscribed_alice, source="preference_page")
    assert sorted(events.values_list("topic__slug", "new_status")) == [
        ("product-news", "unsubscribed"),
        ("weekly-digest", "subscribed"),
    ]
