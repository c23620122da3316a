"""Pages and mail in the person's language: a Danish contact reads Danish topic names on their
preference page and in their campaign's footer (issue 11, bar 3)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from subscriptions.campaigns.messages import build_marketing_message
from subscriptions.consent.tokens import preferences_token, unsubscribe_token
from tests.factories import ContactFactory, SubscriptionFactory
from tests.form_tasks import run_queued_form_tasks
from tests.sending_factories import CampaignFactory

pytestmark = pytest.mark.usefixtures("fresh_rate_limits")


@pytest.fixture
def danish_topic(topic):
    topic.name_da = "Produktnyheder"
    topic.description_da = "Nyt om vores produkter."
    topic.save()
    return topic


@pytest.fixture
def danish_contact(danish_topic):
    contact = ContactFactory(email="mette@example.dk", locale="da")
    SubscriptionFactory(contact=contact, topic=danish_topic)
    return contact


def test_it_lists_the_topics_under_their_danish_names_on_a_danish_preference_page(
    client, danish_contact, danish_topic, other_topic
):
    response = client.get(reverse("preferences", args=[preferences_token(danish_contact)]))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'lang="da"' in page
    assert "Produktnyheder" in page
    assert "Nyt om vores produkter." in page
    assert "Product news" not in page
    # A topic nobody translated keeps its one name rather than showing nothing.
    assert other_topic.name in page


def test_it_keeps_the_english_names_for_an_english_contact(client, subscribed_alice, danish_topic):
    response = client.get(reverse("preferences", args=[preferences_token(subscribed_alice)]))

    page = response.content.decode()
    assert "Product news" in page
    assert "Produktnyheder" not in page


def test_it_writes_a_danish_contact_s_campaign_footer_in_danish(danish_contact, danish_topic):
    campaign = CampaignFactory(topic=danish_topic, html_body="<p>Hej</p>", text_body="Hej")

    message = build_marketing_message(campaign=campaign, contact=danish_contact)

    html = message.alternatives[0][0]
    for body in (message.body, html):
        assert "Afmeld Produktnyheder" in body
        assert "Administrer dine præferencer" in body
        assert "Unsubscribe" not in body
        assert "Product news" not in body


def test_it_names_the_topic_in_danish_on_the_unsubscribe_page(client, danish_contact, danish_topic):
    response = client.get(
        reverse("unsubscribe", args=[unsubscribe_token(danish_contact, danish_topic)])
    )

    assert "Produktnyheder" in response.content.decode()


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("da", "Produktnyheder"),
        ("da-dk", "Produktnyheder"),
        ("en", "Product news"),
        (None, "Product news"),
    ],
)
def test_it_falls_back_to_the_base_language_then_to_the_default(danish_topic, language, expected):
    assert danish_topic.name_in(language) == expected


def test_it_offers_the_topics_under_their_danish_names_on_the_subscribe_form(client, danish_topic):
    page = client.get(reverse("subscribe"), HTTP_ACCEPT_LANGUAGE="da").content.decode()

    assert "Produktnyheder" in page
    assert "Product news" not in page


def test_it_names_the_topics_in_danish_in_the_confirmation_email(
    client, danish_topic, send_queued_transactional
):
    client.post(
        reverse("subscribe"),
        {"email": "ny@example.dk", "topics": [danish_topic.pk], "consent": "on"},
        HTTP_ACCEPT_LANGUAGE="da",
    )
    run_queued_form_tasks()

    (message,) = send_queued_transactional()
    assert "Produktnyheder" in message.body
    assert "Product news" not in message.body
