"""The preference page says what each frequency means: what the sender keeps (issue 11)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from subscriptions.consent.tokens import preferences_token
from tests.factories import SubscriptionFactory, TopicFactory

pytestmark = pytest.mark.usefixtures("fresh_rate_limits")


@pytest.fixture
def every_frequency(alice):
    topic = TopicFactory(slug="news", frequencies=["immediate", "daily", "weekly", "monthly"])
    SubscriptionFactory(contact=alice, topic=topic, frequency="weekly")
    return alice


def preference_page(client, contact) -> str:
    return client.get(reverse("preferences", args=[preferences_token(contact)])).content.decode()


def test_it_says_what_each_frequency_means(client, every_frequency):
    page = preference_page(client, every_frequency)

    for meaning in (
        "As it happens: every campaign",
        "Daily: at most one a day",
        "Weekly: at most one every 7 days",
        "Monthly: at most one every 30 days",
    ):
        assert meaning in page
    assert '<option value="weekly" selected>Weekly: at most one every 7 days</option>' in page


def test_it_says_what_each_frequency_means_in_danish(client, every_frequency):
    every_frequency.locale = "da"
    every_frequency.save()

    page = preference_page(client, every_frequency)

    assert "Løbende: hver kampagne" in page
    assert "Dagligt: højst én om dagen" in page
    assert "Ugentligt: højst én hver 7. dag" in page
    assert "Månedligt: højst én hver 30. dag" in page
