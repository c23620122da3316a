"""Contact.objects.marketable(topic): exactly who may get marketing on a topic now."""

from __future__ import annotations

import datetime

import pytest
from django.test import override_settings
from django.utils import timezone

from subscriptions.consent.ledger import Actor
from subscriptions.consent.suppression import suppression_add
from subscriptions.models import Contact
from subscriptions.models.querysets import birth_date_cutoff
from tests.factories import ContactFactory, SubscriptionFactory

# Staff adding a suppression by hand (source `admin`).
STAFF = Actor(source="admin")


def marketable(topic) -> set[str]:
    return set(Contact.objects.marketable(topic).values_list("email", flat=True))


@pytest.fixture
def audience(topic, other_topic):
    now = timezone.now()
    today = timezone.localdate()
    people = {
        "ok": {},
        "pending": {"status": "pending"},
        "unsubscribed": {"status": "unsubscribed"},
        "paused": {"paused_until": now + datetime.timedelta(days=3)},
        "pause-over": {"paused_until": now - datetime.timedelta(days=1)},
    }
    for name, fields in people.items():
        SubscriptionFactory(
            contact=ContactFactory(email=f"{name}@example.com"), topic=topic, **fields
        )
    SubscriptionFactory(contact=ContactFactory(email="other-topic@example.com"), topic=other_topic)
    for reason in ("unsubscribed_all", "hard_bounce", "complaint", "manual", "erased"):
        contact = ContactFactory(email=f"suppressed-{reason}@example.com")
        SubscriptionFactory(contact=contact, topic=topic)
        suppression_add(email=contact.email, reason=reason, by=STAFF)
    child = ContactFactory(
        email="child@example.com",
        birth_date=birth_date_cutoff(16, today) + datetime.timedelta(days=1),
    )
    adult = ContactFactory(
        email="sixteen-today@example.com", birth_date=birth_date_cutoff(16, today)
    )
    erased = ContactFactory(email="erased@example.com", erased_at=now)
    for contact in (child, adult, erased):
        SubscriptionFactory(contact=contact, topic=topic)


def test_it_selects_exactly_the_marketable_contacts(audience, topic):
    assert marketable(topic) == {
        "ok@example.com",
        "pause-over@example.com",
        "sixteen-today@example.com",
    }


def test_it_honours_a_per_country_minimum_age(topic):
    today = timezone.localdate()
    fourteen = birth_date_cutoff(14, today)
    dane = ContactFactory(email="dane@example.com", country="DK", birth_date=fourteen)
    german = ContactFactory(email="german@example.com", country="DE", birth_date=fourteen)
    for contact in (dane, german):
        SubscriptionFactory(contact=contact, topic=topic)
    with override_settings(MINIMUM_AGE=16, MINIMUM_AGE_BY_COUNTRY={"DK": 13}):
        assert marketable(topic) == {"dane@example.com"}
