from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.utils import timezone

from subscriptions.addresses import address_hash
from subscriptions.consent import tokens
from subscriptions.consent.confirmations import subscription_confirm, subscription_request
from subscriptions.consent.contacts import contact_get_or_create
from subscriptions.consent.errors import ResubscribeRequiresConfirmation
from subscriptions.consent.ledger import Actor, record
from subscriptions.consent.subscriptions import subscription_subscribe
from subscriptions.models import (
    Campaign,
    ConsentEvent,
    Contact,
    Delivery,
    LinkHit,
    PrivacyRequest,
    Subscription,
    Suppression,
    TransactionalMessage,
)
from subscriptions.privacy.erasure import contact_erase
from subscriptions.privacy.export import contact_export
from subscriptions.privacy.rights import ContactAlreadyErased, privacy_request_start
from tests.factories import ContactFactory, SubscriptionFactory
from tests.form_tasks import run_queued_form_tasks

WEB = Actor(source="preference_page", ip_address="203.0.113.9", user_agent="Firefox/1.0")


@pytest.fixture
def ledgered_alice(subscribed_alice, topic, other_topic):
    """Alice with a few ledger rows carrying personal fields, a delivery and a system mail."""
    record(contact=subscribed_alice, topic=topic, action="subscribed", by=WEB, new_status="x")
    record(
        contact=subscribed_alice,
        topic=other_topic,
        action="unsubscribed",
        by=Actor(source="api", evidence="crm ticket 7 by alice@example.com"),
    )
    campaign = Campaign.objects.create(
        name="Spring", topic=topic, subject="Hi", html_body="x", status="sent"
    )
    Delivery.objects.create(
        campaign=campaign,
        contact=subscribed_alice,
        status="sent",
        esp_message_id="esp-1",
        sent_at=timezone.now(),
    )
    Delivery.objects.create(
        campaign=campaign, contact=ContactFactory(), status="failed", error="550 bob@example.com"
    )
    LinkHit.objects.create(contact=subscribed_alice, kind="unsubscribe", user_agent="Scanner/2")
    TransactionalMessage.objects.create(
        kind="receipt", to_email="alice@example.com", subject="Receipt", text_body="Hi Alice"
    )
    return subscribed_alice


def _erase(contact):
    contact_erase(contact=contact, by=Actor(source="admin", actor="dpo"))
    return Contact.objects.get(pk=contact.pk)


# --- export ----------------------------------------------------------------------------------


def test_it_exports_every_ledger_row_oldest_first(ledgered_alice):
    data = contact_export(contact=ledgered_alice)
    json.dumps(data)  # serialisable as is
    ids = list(
        ConsentEvent.objects.filter(contact=ledgered_alice)
        .order_by("created_at", "id")
        .values_list("id", flat=True)
    )
    assert [e["id"] for e in data["consent_events"]] == ids
    assert len(ids) == 2
    assert data["contact"]["email"] == "alice@example.com"
    assert data["subscriptions"][0]["topic"] == "product-news"
    assert data["deliveries"] == [
        {
            "campaign": "Spring",
            "subject": "Hi",
            "status": "sent",
            "reason": "",
            "sent_at": data["deliveries"][0]["sent_at"],
        }
    ]
    assert [m["subject"] for m in data["transactional_messages"]] == ["Receipt"]
    assert [h["user_agent"] for h in data["link_hits"]] == ["Scanner/2"]


def test_it_refuses_to_export_an_erased_contact(alice):
    erased = _erase(alice)
    with pytest.raises(ContactAlreadyErased):
        contact_export(contact=erased)


# --- erasure ---------------------------------------------------------------------------------


def test_it_erases_personal_data_and_keeps_facts(ledgered_alice, topic):
    old_hash = ledgered_alice.address_hash
    old_token_key = ledgered_alice.token_key
    events_before = ConsentEvent.objects.filter(contact=ledgered_alice).count()
    erased = _erase(ledgered_alice)

    assert erased.email == "" and erased.email_key is None and erased.address_hash == ""
    assert erased.attributes == {} and erased.erased_at is not None
    assert erased.token_key != old_token_key
    assert Suppression.objects.filter(
        address_hash=old_hash, reason="erased", scope="marketing"
    ).exists()
    assert Subscription.objects.get(contact=erased, topic=topic).status == "unsubscribed"
    events = ConsentEvent.objects.filter(contact=erased)
    # one unsubscribe for product-news, the suppression (suppression_add's one row), one ERASED
    # row; nothing deleted
    assert events.count() == events_before + 3
    assert list(events.values_list("action", "new_status"))[-3:] == [
        ("unsubscribed", "unsubscribed"),
        ("suppressed", "erased"),
        ("erased", "erased"),
    ]
    assert not events.exclude(ip_address=None).exists()
    assert not events.exclude(user_agent="").exists()
    assert not events.exclude(evidence="").exists()
    # campaign statistics stay right: outcomes kept, identifying bits gone
    delivery = Delivery.objects.get(contact=erased)
    assert (delivery.status, delivery.esp_message_id) == ("sent", "")
    assert Delivery.objects.filter(status="failed").count() == 1
    assert not TransactionalMessage.objects.filter(to_email__icontains="alice").exists()
    assert LinkHit.objects.get(contact=erased).user_agent == ""


def test_it_refuses_to_erase_twice(alice):
    erased = _erase(alice)
    with pytest.raises(ContactAlreadyErased):
        contact_erase(contact=erased, by=Actor(source="admin"))
    assert ConsentEvent.objects.filter(contact=erased, action="erased").count() == 1


def test_it_keeps_the_ledger_trigger_in_force_for_facts(ledgered_alice):
    erased = _erase(ledgered_alice)
    event = ConsentEvent.objects.filter(contact=erased).first()
    # The app role has no UPDATE on facts; the trigger refuses it to the owner too.
    refused = "cannot be changed|permission denied"
    with pytest.raises(Exception, match=refused), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE subscriptions_consentevent SET action = 'x' WHERE id = %s", [event.pk]
        )


def test_it_refuses_an_erased_address_through_the_api_service(alice, topic):
    _erase(alice)
    again, created = contact_get_or_create(email="Alice@example.com")
    assert created
    with pytest.raises(ResubscribeRequiresConfirmation):
        subscription_subscribe(contact=again, topic=topic, by=Actor(source="api"))
    assert not Contact.objects.marketable(topic).exists()


def test_it_refuses_an_erased_address_through_the_import_path(alice, topic):
    _erase(alice)
    again, _created = contact_get_or_create(email="alice@example.com")
    with pytest.raises(ResubscribeRequiresConfirmation):
        subscription_subscribe(
            contact=again,
            topic=topic,
            by=Actor(source="import", actor="import:crm"),
            legal_basis="soft_opt_in",
            implied_by="purchase",
        )
    assert not Subscription.objects.filter(contact=again, status="subscribed").exists()


def test_it_only_asks_for_confirmation_from_the_form_path(alice, topic, send_queued_transactional):
    _erase(alice)
    again, _created = contact_get_or_create(email="alice@example.com")
    subscription_request(contact=again, topics=[topic], by=Actor(source="subscribe_form"))
    # silently pending: no subscription, never marketable, until the person confirms
    assert Subscription.objects.get(contact=again, topic=topic).status == "pending"
    assert not Contact.objects.marketable(topic).exists()
    subscription_confirm(contact=again, topics=[topic], by=Actor(source="confirmation"))
    assert list(Contact.objects.marketable(topic)) == [again]
    assert not Suppression.objects.filter(address_hash=address_hash("alice@example.com")).exists()


def test_it_answers_the_subscribe_form_for_an_erased_address_like_any_other(client, alice, topic):
    _erase(alice)
    form = {"topics": [topic.pk], "consent": "on"}
    erased = client.post("/subscribe/", {"email": "alice@example.com", **form})
    stranger = client.post("/subscribe/", {"email": "stranger@example.com", **form})
    run_queued_form_tasks()  # what the transactional worker does with the queued sign-ups
    assert erased.status_code == stranger.status_code == 200
    assert erased.content == stranger.content  # no enumeration
    again = Contact.objects.active().get(email_key="alice@example.com")
    assert Subscription.objects.get(contact=again).status == "pending"
    assert not Contact.objects.marketable(topic).exists()
    assert Suppression.objects.filter(reason="erased").exists()  # lifted only by confirming


def test_it_never_lists_an_erased_contact_as_marketable(subscribed_alice, topic):
    assert list(Contact.objects.marketable(topic)) == [subscribed_alice]
    _erase(subscribed_alice)
    assert not Contact.objects.marketable(topic).exists()


# --- verification links ----------------------------------------------------------------------


def _emailed_link(kind: str) -> str:
    message = TransactionalMessage.objects.filter(kind=kind).latest("created_at")
    return re.search(r"https?://\S+/privacy/\S+/", message.text_body).group(0)


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


@pytest.fixture
def preference_token(subscribed_alice):
    return tokens.preferences_token(subscribed_alice)


def test_it_shows_the_privacy_buttons_on_the_preference_page(client, preference_token):
    page = client.get(f"/preferences/{preference_token}/").content.decode()
    assert "Download my data" in page and "Erase my data" in page


def test_it_never_reveals_the_ledger_with_a_preference_token(
    client, ledgered_alice, preference_token
):
    response = client.post(f"/privacy/request/export/{preference_token}/")
    assert response.status_code == 200
    assert b"Check your email" in response.content
    assert b"203.0.113" not in response.content and b"crm ticket" not in response.content
    assert PrivacyRequest.objects.filter(contact=ledgered_alice, action="export").count() == 1


def test_it_downloads_the_data_once_through_the_emailed_link(
    client, ledgered_alice, preference_token
):
    client.post(f"/privacy/request/export/{preference_token}/")
    link = _path(_emailed_link("privacy_export"))
    page = client.get(link)
    assert page.status_code == 200 and b"Download my data" in page.content
    download = client.post(link)
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="my-data.json"'
    data = json.loads(download.content)
    assert (
        len(data["consent_events"]) == ConsentEvent.objects.filter(contact=ledgered_alice).count()
    )
    assert data["consent_events"][-1]["action"] == "exported"
    reused = client.post(link)
    assert reused.status_code == 410 and b"already been used" in reused.content


def test_it_refuses_an_expired_link(client, subscribed_alice, preference_token, settings):
    client.post(f"/privacy/request/export/{preference_token}/")
    link = _path(_emailed_link("privacy_export"))
    settings.PRIVACY_LINK_MAX_AGE_MINUTES = -1
    response = client.post(link)
    assert response.status_code == 410 and b"expired" in response.content
    assert PrivacyRequest.objects.get().used_at is None


@pytest.mark.parametrize("token", ["garbage", "a" * 2000, "e30:1:abc"])
def test_it_refuses_forged_links(client, subscribed_alice, token):
    for url in (f"/privacy/download/{token}/", f"/privacy/erase/{token}/"):
        assert client.get(url).status_code == 404
        assert client.post(url).status_code == 404
    assert client.post(f"/privacy/request/export/{token}/").status_code == 404


def test_it_refuses_an_export_link_on_the_erase_page(client, subscribed_alice, preference_token):
    client.post(f"/privacy/request/export/{preference_token}/")
    export_token = _emailed_link("privacy_export").rstrip("/").rsplit("/", 1)[1]
    assert client.post(f"/privacy/erase/{export_token}/").status_code == 404
    assert Contact.objects.get(pk=subscribed_alice.pk).erased_at is None


def test_it_erases_after_confirmation_and_then_the_old_links_are_gone(
    client, subscribed_alice, preference_token
):
    client.post(f"/privacy/request/erase/{preference_token}/")
    link = _path(_emailed_link("privacy_erase"))
    confirm = client.get(link)
    assert confirm.status_code == 200 and b"Yes, erase my data" in confirm.content
    assert Contact.objects.get(pk=subscribed_alice.pk).erased_at is None  # GET changes nothing
    done = client.post(link)
    assert done.status_code == 200 and b"Your data has been erased" in done.content
    assert Contact.objects.get(pk=subscribed_alice.pk).erased_at is not None
    gone = client.get(f"/preferences/{preference_token}/")
    assert gone.status_code == 410 and b"no longer valid" in gone.content
    assert client.post(link).status_code == 410


def test_it_limits_verification_emails_per_hour(subscribed_alice, settings):
    settings.PRIVACY_REQUESTS_PER_HOUR = 2
    results = [privacy_request_start(contact=subscribed_alice, action="export") for _ in range(3)]
    assert [r is not None for r in results] == [True, True, False]
    assert TransactionalMessage.objects.filter(kind="privacy_export").count() == 2


def test_it_rejects_an_unknown_privacy_action(client, preference_token):
    assert client.post(f"/privacy/request/steal/{preference_token}/").status_code == 404


def test_it_forgets_erased_unused_requests(subscribed_alice):
    request = privacy_request_start(contact=subscribed_alice, action="export")
    _erase(subscribed_alice)
    request.refresh_from_db()
    assert request.used_at is not None


# --- admin -----------------------------------------------------------------------------------


def test_it_exports_and_erases_from_the_admin(admin_client, subscribed_alice):
    url = "/admin/subscriptions/datasubject/"
    export = admin_client.post(
        url, {"action": "export_data", "_selected_action": [subscribed_alice.pk]}
    )
    assert json.loads(export.content)["contact"]["email"] == "alice@example.com"
    ask = admin_client.post(
        url, {"action": "erase_data", "_selected_action": [subscribed_alice.pk]}
    )
    assert ask.status_code == 200 and b"Yes, erase them" in ask.content
    assert Contact.objects.get(pk=subscribed_alice.pk).erased_at is None
    admin_client.post(
        url,
        {"action": "erase_data", "_selected_action": [subscribed_alice.pk], "confirm": "yes"},
    )
    erased = Contact.objects.get(pk=subscribed_alice.pk)
    assert erased.erased_at is not None
    event = ConsentEvent.objects.get(contact=erased, action="erased")
    assert event.source == "admin" and event.staff_user is not None


def test_it_keeps_deliveries_of_erased_contacts_counted(ledgered_alice):
    campaign = Campaign.objects.get()
    before = sorted(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True))
    _erase(ledgered_alice)
    after = sorted(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert after == before == ["failed", "sent"]


def test_it_leaves_other_contacts_alone(ledgered_alice, topic):
    bob = ContactFactory(email="bob@example.com")
    SubscriptionFactory(contact=bob, topic=topic)
    record(contact=bob, topic=topic, action="subscribed", by=WEB)
    _erase(ledgered_alice)
    bob.refresh_from_db()
    assert bob.email == "bob@example.com"
    assert ConsentEvent.objects.get(contact=bob).ip_address == "203.0.113.0/24"
    assert list(Contact.objects.marketable(topic)) == [bob]


def test_it_speaks_the_contacts_language(client, subscribed_alice, send_queued_transactional):
    Contact.objects.filter(pk=subscribed_alice.pk).update(locale="da")
    subscribed_alice.refresh_from_db()
    token = tokens.preferences_token(subscribed_alice)
    assert "Slet mine data" in client.get(f"/preferences/{token}/").content.decode()
    client.post(f"/privacy/request/erase/{token}/")
    message = TransactionalMessage.objects.get(kind="privacy_erase")
    assert message.subject == "Bekræft sletningen af dine data"
    page = client.get(_path(_emailed_link("privacy_erase")))
    assert "Ja, slet mine data" in page.content.decode()
