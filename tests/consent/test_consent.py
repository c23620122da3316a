"""The consent services: one ledger row per change, and rule 5 on every path."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from subscriptions.consent.confirmations import subscription_confirm, subscription_request
from subscriptions.consent.contacts import contact_get_or_create
from subscriptions.consent.errors import ResubscribeRequiresConfirmation
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import (
    contact_unsubscribe_all,
    subscription_pause,
    subscription_resume,
    subscription_set_frequency,
    subscription_subscribe,
    subscription_unsubscribe,
)
from subscriptions.consent.suppression import suppression_add
from subscriptions.models import ConsentEvent, Subscription, Suppression

# Staff adding a suppression by hand (source `admin`).
STAFF = Actor(source="admin")

WEB = Actor(source="subscribe_form", ip_address="198.51.100.23", user_agent="Firefox")
IMPORT = Actor(source="import", evidence="import:crm")
ADMIN = Actor(source="admin")
PREFS = Actor(source="preference_page", wording="Yes, send me product news.")


def status(contact, topic) -> str:
    return Subscription.objects.get(contact=contact, topic=topic).status


def test_it_creates_one_contact_per_address_case_insensitively(db):
    first, created = contact_get_or_create(email="Bob.Smith+news@EXAMPLE.com")
    again, created_again = contact_get_or_create(email="bob.smith+NEWS@example.COM")
    assert created and not created_again
    assert again.pk == first.pk
    assert first.email == "Bob.Smith+news@example.com"  # +tags and dots are kept


def test_it_idna_encodes_the_domain(db):
    contact, _ = contact_get_or_create(email="anna@bücher.de")
    assert contact.email == "anna@xn--bcher-kva.de"


def test_it_unsubscribes_with_exactly_one_ledger_row(subscribed_alice, topic):
    by = Actor(source="one_click", ip_address="203.0.113.9", user_agent="Gmail")
    assert subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=by)
    event = ConsentEvent.objects.get()
    assert (event.action, event.old_status, event.new_status) == (
        "unsubscribed",
        "subscribed",
        "unsubscribed",
    )
    assert event.source == "one_click"
    assert event.ip_address == "203.0.113.0/24"
    assert event.policy_version


def test_it_unsubscribes_twice_harmlessly(subscribed_alice, topic):
    by = Actor(source="unsubscribe_link")
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=by)
    assert not subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=by)
    assert ConsentEvent.objects.count() == 1
    assert status(subscribed_alice, topic) == "unsubscribed"


def test_it_records_an_unsubscribe_even_without_a_subscription(alice, topic):
    subscription_unsubscribe(contact=alice, topic=topic, by=ADMIN)
    assert status(alice, topic) == "unsubscribed"


def test_it_sends_a_confirmation_and_keeps_the_request_pending(
    alice, topic, send_queued_transactional
):
    subscription_request(contact=alice, topics=[topic], by=WEB)
    assert status(alice, topic) == "pending"
    outbox = send_queued_transactional()
    assert len(outbox) == 1
    message = outbox[0]
    assert message.to == ["alice@example.com"]
    assert "/confirm/" in message.body
    assert "List-Unsubscribe" not in message.extra_headers


def test_it_subscribes_on_confirmation(alice, topic):
    subscription_request(contact=alice, topics=[topic], by=WEB)
    subscription_confirm(contact=alice, topics=[topic], by=WEB)
    assert status(alice, topic) == "subscribed"
    assert list(ConsentEvent.objects.values_list("action", "source")) == [
        ("subscribe_requested", "subscribe_form"),
        ("confirmed", "confirmation"),
    ]


@pytest.mark.parametrize("by", [IMPORT, ADMIN, Actor(source="api"), Actor(source="esp_webhook")])
def test_it_never_resubscribes_an_unsubscribed_contact_without_their_consent(
    subscribed_alice, topic, by
):
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=ADMIN)
    with pytest.raises(ResubscribeRequiresConfirmation):
        subscription_subscribe(contact=subscribed_alice, topic=topic, by=by)
    assert status(subscribed_alice, topic) == "unsubscribed"
    assert ConsentEvent.objects.count() == 1


@pytest.mark.parametrize("reason", ["unsubscribed_all", "hard_bounce", "complaint", "manual"])
def test_it_never_subscribes_a_suppressed_address_by_import(alice, topic, reason):
    suppression_add(email=alice.email, reason=reason, by=STAFF)
    with pytest.raises(ResubscribeRequiresConfirmation):
        subscription_subscribe(contact=alice, topic=topic, by=IMPORT)
    assert not Subscription.objects.filter(contact=alice).exists()


def test_it_lets_the_person_resubscribe_by_confirmed_double_opt_in(subscribed_alice, topic):
    contact_unsubscribe_all(contact=subscribed_alice, by=ADMIN)
    subscription_request(contact=subscribed_alice, topics=[topic], by=WEB)
    assert status(subscribed_alice, topic) == "pending"  # not subscribed until confirmed
    with pytest.raises(ResubscribeRequiresConfirmation):  # and still guarded meanwhile
        subscription_subscribe(contact=subscribed_alice, topic=topic, by=IMPORT)
    subscription_confirm(contact=subscribed_alice, topics=[topic], by=WEB)
    assert status(subscribed_alice, topic) == "subscribed"
    assert not Suppression.objects.filter(reason="unsubscribed_all").exists()


def test_it_lets_the_person_rejoin_from_their_preference_page(subscribed_alice, topic):
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=ADMIN)
    subscription_subscribe(contact=subscribed_alice, topic=topic, by=PREFS)
    assert status(subscribed_alice, topic) == "subscribed"
    assert ConsentEvent.objects.last().wording == "Yes, send me product news."


def test_it_does_not_lift_a_hard_bounce_on_rejoining(alice, topic):
    suppression_add(email=alice.email, reason="hard_bounce", by=STAFF)
    subscription_subscribe(contact=alice, topic=topic, by=PREFS)
    assert Suppression.objects.filter(reason="hard_bounce", scope="all").exists()


def test_it_unsubscribes_from_all_and_suppresses_for_marketing(
    subscribed_alice, topic, other_topic
):
    subscription_subscribe(contact=subscribed_alice, topic=other_topic, by=ADMIN)
    ConsentEvent.objects.all().count()
    before = ConsentEvent.objects.count()
    assert contact_unsubscribe_all(contact=subscribed_alice, by=PREFS) == 2
    assert ConsentEvent.objects.count() == before + 3  # two topics + the unsubscribe-all
    suppression = Suppression.objects.get(address_hash=subscribed_alice.address_hash)
    assert (suppression.reason, suppression.scope) == ("unsubscribed_all", "marketing")
    assert contact_unsubscribe_all(contact=subscribed_alice, by=PREFS) == 0
    assert ConsentEvent.objects.count() == before + 3


def test_it_pauses_and_resumes(subscribed_alice, topic):
    until = timezone.now() + datetime.timedelta(days=30)
    assert subscription_pause(contact=subscribed_alice, until=until, by=PREFS) == 1
    assert subscription_resume(contact=subscribed_alice, by=PREFS) == 1
    assert list(ConsentEvent.objects.values_list("action", flat=True)) == ["paused", "resumed"]


def test_it_changes_frequency_once(subscribed_alice, topic):
    assert subscription_set_frequency(
        contact=subscribed_alice, topic=topic, frequency="weekly", by=PREFS
    )
    assert not subscription_set_frequency(
        contact=subscribed_alice, topic=topic, frequency="weekly", by=PREFS
    )
    assert ConsentEvent.objects.get().new_status == "weekly"
