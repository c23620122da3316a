from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from subscriptions.consent.confirmations import confirmation_accept
from subscriptions.consent.errors import UnknownFrequency
from subscriptions.consent.ledger import Actor
from subscriptions.consent.preferences import TopicChoice, preferences_apply
from subscriptions.consent.subscriptions import contact_unsubscribe_all
from subscriptions.consent.tokens import preferences_token, read_confirm_token
from subscriptions.models import ConsentEvent, Contact, Subscription, Suppression
from tests.factories import ContactFactory, SubscriptionFactory, TopicFactory

WORDING = "By switching a topic on, I agree."

pytestmark = pytest.mark.usefixtures("fresh_rate_limits")


@pytest.fixture
def by():
    return Actor(source="preference_page", wording=WORDING)


@pytest.fixture
def fresh():
    return timezone.now()


@pytest.fixture
def old():
    return timezone.now() - datetime.timedelta(days=31)


def status_of(contact, topic) -> str | None:
    sub = Subscription.objects.filter(contact=contact, topic=topic).first()
    return sub.status if sub else None


# --- the service -------------------------------------------------------------------------------


def test_it_writes_one_event_per_change(subscribed_alice, topic, other_topic, by, fresh):
    result = preferences_apply(
        contact=subscribed_alice,
        choices={
            topic.slug: TopicChoice(subscribed=False),
            other_topic.slug: TopicChoice(subscribed=True, frequency="weekly"),
        },
        by=by,
        link_issued_at=fresh,
    )
    assert (result.left, result.joined) == ([topic], [other_topic])
    assert status_of(subscribed_alice, topic) == "unsubscribed"
    joined = Subscription.objects.get(contact=subscribed_alice, topic=other_topic)
    assert (joined.status, joined.frequency) == ("subscribed", "weekly")
    events = list(ConsentEvent.objects.order_by("id"))
    assert [(e.topic, e.action) for e in events] == [
        (topic, "unsubscribed"),
        (other_topic, "subscribed"),
    ] or [(e.topic, e.action) for e in events] == [
        (other_topic, "subscribed"),
        (topic, "unsubscribed"),
    ]
    assert {e.source for e in events} == {"preference_page"}
    assert {e.wording for e in events} == {WORDING}


def test_it_writes_nothing_when_nothing_changed(subscribed_alice, topic, other_topic, by, fresh):
    result = preferences_apply(
        contact=subscribed_alice,
        choices={
            topic.slug: TopicChoice(subscribed=True, frequency="immediate"),
            other_topic.slug: TopicChoice(subscribed=False),
        },
        by=by,
        link_issued_at=fresh,
    )
    assert not result.changed
    assert not ConsentEvent.objects.exists()


def test_it_changes_a_frequency_with_one_event(subscribed_alice, topic, by, fresh):
    preferences_apply(
        contact=subscribed_alice,
        choices={topic.slug: TopicChoice(subscribed=True, frequency="weekly")},
        by=by,
        link_issued_at=fresh,
    )
    event = ConsentEvent.objects.get()
    assert (event.action, event.old_status, event.new_status) == (
        "frequency_changed",
        "immediate",
        "weekly",
    )


def test_it_refuses_a_frequency_the_topic_does_not_offer(subscribed_alice, topic, by, fresh):
    with pytest.raises(UnknownFrequency):
        preferences_apply(
            contact=subscribed_alice,
            choices={topic.slug: TopicChoice(subscribed=True, frequency="hourly")},
            by=by,
            link_issued_at=fresh,
        )
    assert not ConsentEvent.objects.exists()


def test_it_lets_the_person_rejoin_after_unsubscribe_all_by_confirming(
    alice, topic, by, fresh, send_queued_transactional
):
    SubscriptionFactory(contact=alice, topic=topic)
    contact_unsubscribe_all(contact=alice, by=Actor(source="unsubscribe_link"))
    result = preferences_apply(
        contact=alice,
        choices={topic.slug: TopicChoice(subscribed=True)},
        by=by,
        link_issued_at=fresh,
    )
    # Even a fresh link only asks: lifting an unsubscribe-all takes a confirmation email.
    assert result.awaiting_confirmation == [topic]
    assert status_of(alice, topic) == "pending"
    assert Suppression.objects.exists()
    (message,) = send_queued_transactional()
    token = message.body.split("/confirm/")[1].split("/")[0]
    _contact, confirmation = read_confirm_token(token)
    confirmation_accept(confirmation=confirmation, by=by)
    assert status_of(alice, topic) == "subscribed"
    assert not Suppression.objects.exists()


def test_it_confirms_by_email_a_join_from_an_old_link(
    alice, topic, by, old, send_queued_transactional
):
    result = preferences_apply(
        contact=alice,
        choices={topic.slug: TopicChoice(subscribed=True)},
        by=by,
        link_issued_at=old,
    )
    assert result.awaiting_confirmation == [topic]
    assert not result.joined
    assert status_of(alice, topic) == "pending"
    assert ConsentEvent.objects.get().action == "subscribe_requested"
    (message,) = send_queued_transactional()
    assert "/confirm/" in message.body


def test_it_leaves_a_pending_topic_pending_when_off(alice, topic, by, fresh):
    SubscriptionFactory(contact=alice, topic=topic, status="pending")
    preferences_apply(
        contact=alice,
        choices={topic.slug: TopicChoice(subscribed=False)},
        by=by,
        link_issued_at=fresh,
    )
    assert status_of(alice, topic) == "pending"
    assert not ConsentEvent.objects.exists()


# --- the page ----------------------------------------------------------------------------------


def page_path(contact, issued_at=None) -> str:
    return reverse("preferences", args=[preferences_token(contact, issued_at)])


def test_it_shows_every_active_topic_without_changing_anything(
    db_snapshot, client, subscribed_alice, topic, other_topic
):
    TopicFactory(slug="retired", name="Retired topic", is_active=False)
    before = db_snapshot()
    response = client.get(page_path(subscribed_alice))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Product news" in body and "Weekly digest" in body
    assert "Retired topic" not in body
    assert 'name="on-product-news" checked' in body or "checked" in body
    assert "Pause for 30 days" in body
    assert "receipts" in body  # what they will still receive
    assert db_snapshot() == before


def test_it_saves_joins_and_leaves_from_the_page(client, subscribed_alice, topic, other_topic):
    path = page_path(subscribed_alice)
    response = client.post(
        path,
        {
            "action": "save",
            "freq-product-news": "immediate",
            "on-weekly-digest": "on",
            "freq-weekly-digest": "weekly",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{path}?notice=saved"
    assert status_of(subscribed_alice, topic) == "unsubscribed"
    assert status_of(subscribed_alice, other_topic) == "subscribed"
    assert ConsentEvent.objects.count() == 2
    assert set(ConsentEvent.objects.values_list("source", flat=True)) == {"preference_page"}
    assert "By switching a topic on" in ConsentEvent.objects.first().wording
    assert b"Your preferences are saved." in client.get(response["Location"]).content


def test_it_asks_for_confirmation_from_an_old_page_link(
    client, alice, topic, send_queued_transactional
):
    old = timezone.now() - datetime.timedelta(days=40)
    response = client.post(
        page_path(alice, old), {"action": "save", "on-product-news": "on"}, follow=True
    )
    assert b"confirm the new topics" in response.content
    assert status_of(alice, topic) == "pending"
    assert len(send_queued_transactional()) == 1


@pytest.mark.parametrize(
    ("action", "expected"), [("pause30", 30), ("pause90", 90)], ids=["30-days", "90-days"]
)
def test_it_pauses_and_resumes(client, subscribed_alice, topic, action, expected):
    path = page_path(subscribed_alice)
    client.post(path, {"action": action})
    sub = Subscription.objects.get(contact=subscribed_alice, topic=topic)
    days = (sub.paused_until - timezone.now()).days
    assert days in (expected - 1, expected)
    assert b"Resume my emails now" in client.get(path).content
    client.post(path, {"action": "resume"})
    sub.refresh_from_db()
    assert sub.paused_until is None
    assert list(ConsentEvent.objects.values_list("action", flat=True)) == ["paused", "resumed"]


def test_it_unsubscribes_from_all_from_the_page(client, subscribed_alice, topic):
    client.post(page_path(subscribed_alice), {"action": "unsubscribe_all"})
    assert status_of(subscribed_alice, topic) == "unsubscribed"
    assert Suppression.objects.filter(reason="unsubscribed_all").exists()


@pytest.mark.parametrize(
    "data",
    [
        {"action": "save", "on-no-such-topic": "on"},
        {"action": "save", "on-product-news": "on", "freq-product-news": "hourly"},
        {"action": "explode"},
    ],
    ids=["unknown-topic", "unknown-frequency", "unknown-action"],
)
def test_it_refuses_bad_preference_input(db_snapshot, client, subscribed_alice, topic, data):
    before = db_snapshot()
    response = client.post(page_path(subscribed_alice), data)
    assert response.status_code == 400
    assert db_snapshot() == before


def test_it_refuses_a_forged_preference_token(db_snapshot, client, subscribed_alice):
    token = preferences_token(subscribed_alice)
    before = db_snapshot()
    for bad in [token[:-2], token[:8], "x" * 40, token.replace(":", ".")]:
        assert (
            client.post(
                reverse("preferences", args=[bad]), {"action": "unsubscribe_all"}
            ).status_code
            == 404
        )
    assert db_snapshot() == before


def test_it_renders_the_page_in_danish(client, subscribed_alice):
    subscribed_alice.locale = "da"
    subscribed_alice.save()
    response = client.get(page_path(subscribed_alice))
    assert "Dine e-mailpræferencer".encode() in response.content


# --- the account page ----------------------------------------------------------------------------


def test_it_requires_a_login_for_the_account_page(client, db):
    response = client.get(reverse("account_preferences"))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_it_links_a_contact_to_the_signed_in_user(client, topic):
    user = get_user_model().objects.create_user("bob", "Bob@Example.com", "pw")
    client.force_login(user)
    response = client.get(reverse("account_preferences"))
    assert response.status_code == 200
    contact = Contact.objects.get()
    assert (contact.email, contact.user) == ("Bob@example.com", user)
    response = client.post(
        reverse("account_preferences"), {"action": "save", "on-product-news": "on"}
    )
    assert response.status_code == 302
    assert status_of(contact, topic) == "subscribed"


def test_it_uses_the_contact_already_linked(client, topic):
    user = get_user_model().objects.create_user("carol", "carol@example.com", "pw")
    contact = ContactFactory(email="other@example.com", user=user)
    client.force_login(user)
    client.post(reverse("account_preferences"), {"action": "save", "on-product-news": "on"})
    assert status_of(contact, topic) == "subscribed"
    assert Contact.objects.count() == 1


def test_it_tells_a_person_who_unsubscribed_from_all(client, subscribed_alice):
    contact_unsubscribe_all(contact=subscribed_alice, by=Actor(source="one_click"))
    response = client.get(page_path(subscribed_alice))
    assert b"You are unsubscribed from all marketing emails." in response.content
