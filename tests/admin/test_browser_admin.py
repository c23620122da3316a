"""Staff change a contact's consent from the admin in a real browser."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from subscriptions.consent.subscriptions import subscription_unsubscribe
from subscriptions.models import ConsentEvent, Subscription

pytestmark = pytest.mark.browser


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        "sam", password="pw-sam-staff-123", is_staff=True, is_superuser=True
    )


def log_in(page, site_url: str, next_path: str) -> None:
    page.goto(f"{site_url}{reverse('admin:login')}?next={next_path}")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill("pw-sam-staff-123")
    page.get_by_role("button", name="Log in").click()
    # The console's pages are heavier than the old admin's: wait for the landing page itself
    # (the page's 15 s timeout), not only the 5 s an expectation waits.
    page.wait_for_url(f"**{next_path}")


def test_it_unsubscribes_a_contact_from_the_admin_as_the_staff_user(
    transactional_db, site_url, page, staff, subscribed_alice, topic
):
    log_in(
        page, site_url, reverse("admin:subscriptions_contact_change", args=[subscribed_alice.pk])
    )
    actions = page.locator("#consent-actions")
    expect(actions.get_by_role("heading", name="Consent actions")).to_be_visible()

    actions.get_by_label("Topic").select_option(label="Product news")
    actions.get_by_role("button", name="Unsubscribe from topic").click()

    expect(page.get_by_text("is unsubscribed from Product news")).to_be_visible()
    assert Subscription.objects.get(contact=subscribed_alice).status == "unsubscribed"
    event = ConsentEvent.objects.get(contact=subscribed_alice)
    assert (event.source, event.staff_user) == ("admin", staff)


def test_it_shows_why_staff_cannot_resubscribe_someone_who_opted_out(
    transactional_db, site_url, page, staff, subscribed_alice, topic, actor
):
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=actor)
    log_in(
        page, site_url, reverse("admin:subscriptions_contact_change", args=[subscribed_alice.pk])
    )
    actions = page.locator("#consent-actions")

    actions.get_by_label("Topic").select_option(label="Product news")
    actions.get_by_label("Evidence").fill("Said yes on the phone")
    actions.get_by_role("button", name="Subscribe (with evidence)").click()

    expect(page.locator(".errornote")).to_contain_text(
        "cannot subscribe alice@example.com to Product news again"
    )
    assert Subscription.objects.get(contact=subscribed_alice).status == "unsubscribed"
    assert not ConsentEvent.objects.filter(source="admin").exists()
