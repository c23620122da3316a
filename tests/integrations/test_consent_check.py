"""Issue 14: the consent check answers what sending would decide, blocker by blocker."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from subscriptions.addresses import address_hash
from subscriptions.api.keys import api_key_create
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import contact_unsubscribe_all, subscription_unsubscribe
from subscriptions.models import Contact, Delivery, Suppression
from subscriptions.models.choices import CampaignStatus, DeliveryStatus
from subscriptions.models.querysets import birth_date_cutoff
from subscriptions.privacy.erasure import contact_erase
from tests.factories import ContactFactory, SubscriptionFactory
from tests.sending_factories import CampaignFactory
from tests.support.api import ApiClient

pytestmark = pytest.mark.django_db

CHECK = "/api/v1/consent/check/"


def check(api, **params) -> dict:
    response = api.get(CHECK, params)
    assert response.status_code == 200, response.content
    return response.json()


def subscriber(topic, email: str, **fields) -> Contact:
    contact = ContactFactory(email=email, **fields)
    SubscriptionFactory(contact=contact, topic=topic, frequency="immediate")
    return contact


def test_a_subscriber_is_marketable(api, subscribed_alice, topic):
    assert check(api, email="alice@example.com", topic=topic.slug) == {
        "marketable": True,
        "reason": None,
    }
    assert Contact.objects.marketable(topic).filter(pk=subscribed_alice.pk).exists()


def test_it_finds_the_contact_by_external_id_or_by_any_spelling_of_the_address(api, topic):
    subscriber(topic, "ann@example.com", external_id="user-42")
    assert check(api, external_id="user-42", topic=topic.slug)["marketable"] is True
    assert check(api, email="ANN@Example.COM", topic=topic.slug)["marketable"] is True


def test_an_unknown_contact_is_not_marketable(api, topic):
    assert check(api, email="nobody@example.com", topic=topic.slug) == {
        "marketable": False,
        "reason": "unknown_contact",
    }
    assert check(api, external_id="user-404", topic=topic.slug)["reason"] == "unknown_contact"


def test_an_erased_contact_is_unknown(api, subscribed_alice, topic):
    contact_erase(contact=subscribed_alice, by=Actor(source="api"))
    assert check(api, email="alice@example.com", topic=topic.slug) == {
        "marketable": False,
        "reason": "unknown_contact",
    }


def test_it_names_each_blocker_sending_applies(api, topic, other_topic, settings):
    """One contact per blocker; each answer is the skip reason a campaign would record, and
    `marketable` agrees with the audience query itself."""
    settings.MINIMUM_AGE = 16
    settings.MARKETING_MAX_PER_CONTACT = (1, datetime.timedelta(days=7))
    now = timezone.now()
    ok = subscriber(topic, "ok@example.com")
    subscriber(topic, "paused@example.com")
    Contact.objects.get(email="paused@example.com").subscriptions.update(
        paused_until=now + datetime.timedelta(days=3)
    )
    left = subscriber(topic, "left@example.com")
    subscription_unsubscribe(contact=left, topic=topic, by=Actor(source="one_click"))
    everything = subscriber(topic, "all@example.com")
    contact_unsubscribe_all(contact=everything, by=Actor(source="one_click"))
    bounced = subscriber(topic, "bounced@example.com")
    Suppression.objects.create(
        address_hash=address_hash(bounced.email), reason="hard_bounce", scope="all"
    )
    SubscriptionFactory(
        contact=ContactFactory(email="pending@example.com"), topic=topic, status="pending"
    )
    SubscriptionFactory(contact=ContactFactory(email="elsewhere@example.com"), topic=other_topic)
    subscriber(
        topic,
        "minor@example.com",
        birth_date=birth_date_cutoff(16, timezone.localdate()) + datetime.timedelta(days=1),
    )
    weekly = ContactFactory(email="weekly@example.com")
    SubscriptionFactory(contact=weekly, topic=topic, frequency="weekly")
    capped = subscriber(topic, "capped@example.com")
    for contact, campaign_topic in ((weekly, topic), (capped, other_topic)):
        Delivery.objects.create(
            campaign=CampaignFactory(topic=campaign_topic, status=CampaignStatus.SENT),
            contact=contact,
            status=DeliveryStatus.SENT,
            claimed_at=now - datetime.timedelta(days=1),
            sent_at=now - datetime.timedelta(days=1),
        )

    answers = {
        email: check(api, email=email, topic=topic.slug)["reason"]
        for email in Contact.objects.values_list("email", flat=True)
    }

    assert answers == {
        "ok@example.com": None,
        "paused@example.com": "paused",
        "left@example.com": "unsubscribed",
        "all@example.com": "suppressed",
        "bounced@example.com": "suppressed",
        "pending@example.com": "unsubscribed",
        "elsewhere@example.com": "unsubscribed",
        "minor@example.com": "under_age",
        "weekly@example.com": "frequency",
        "capped@example.com": "contact_cap",
    }
    assert set(Contact.objects.marketable(topic).values_list("email", flat=True)) == {ok.email}


def test_an_unknown_topic_answers_404_unknown_topic(api, alice):
    response = api.get(CHECK, {"email": "alice@example.com", "topic": "no-such-topic"})
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_topic"
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"topic": "product-news"},
        {"email": "alice@example.com", "external_id": "x", "topic": "product-news"},
        {"email": "not an address", "topic": "product-news"},
        {"email": "alice@example.com"},
        {"email": "alice@example.com", "topic": "product-news", "extra": "1"},
    ],
)
def test_bad_questions_answer_400(api, subscribed_alice, params):
    response = api.get(CHECK, params)
    assert response.status_code == 400, response.content
    assert {"error", "detail"} <= set(response.json())


def test_it_needs_only_the_read_scope(subscribed_alice, topic):
    _key, secret = api_key_create(name="crm-reader", scopes=["read"])
    response = ApiClient(secret).get(CHECK, {"email": "alice@example.com", "topic": topic.slug})
    assert response.status_code == 200
    assert response.json()["marketable"] is True
