"""End to end (issue 14, bar 1): a real `celery worker -Q transactional,webhooks` delivers the
events of a one-click unsubscribe, a preference-page save, an ESP complaint and an erasure to a
real local HTTP receiver within seconds, signed so that an independent check verifies them; a
receiver answering 500 twice then 200 gets the event exactly three times, in order per contact;
a hanging receiver is cut off after 5 s and the event retried."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from prefcenter.celery import app
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import subscription_unsubscribe
from subscriptions.consent.tokens import preferences_token, unsubscribe_token
from subscriptions.models import OutboundEvent, WebhookDelivery
from tests.factories import ContactFactory, SubscriptionFactory
from tests.feedback.test_webhooks import POSTMARK_MID, load, post_postmark, sent_to
from tests.integrations.conftest import signature_valid, wait_for

__all__ = ["sent_to"]  # a fixture, used by name

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_rate_limits"),
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

WITHIN_SECONDS = 15
BEAT_START_SECONDS = 90


def delivered(receiver, event_type: str, count: int = 1) -> list[dict]:
    return wait_for(
        lambda: len(receiver.events(event_type)) >= count and receiver.events(event_type),
        WITHIN_SECONDS,
        f"{count} {event_type} event(s) at the receiver",
    )


def assert_signed(receiver, endpoint) -> None:
    hooks = [request for request in receiver.requests if request.path == "/hook"]
    assert hooks
    for request in hooks:
        assert request.headers["Content-Type"] == "application/json"
        assert signature_valid(
            endpoint.secret, request.headers["Prefcenter-Signature"], request.body
        )
        assert not signature_valid(
            "whsec_wrong", request.headers["Prefcenter-Signature"], request.body
        )


def test_a_one_click_unsubscribe_reaches_the_receiver_signed(
    webhook_worker, receiver, endpoint, subscribed_alice, topic, bare_client
):
    webhook_worker.worker()
    path = reverse("unsubscribe", args=[unsubscribe_token(subscribed_alice, topic)])
    response = bare_client.post(
        path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200

    [event] = delivered(receiver, "subscription.changed")
    assert event["data"] == {
        "contact_id": subscribed_alice.pk,
        "external_id": subscribed_alice.external_id,
        "email": "alice@example.com",
        "topic": "product-news",
        "old_status": "subscribed",
        "new_status": "unsubscribed",
        "source": "one_click",
        "campaign_id": None,
    }
    assert event["created_at"].endswith("Z") and len(event["id"]) == 36
    assert_signed(receiver, endpoint)
    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(event__uid=event["id"], status="delivered").first(),
        5,
        "the delivery recorded",
    )
    assert (delivery.attempts, delivery.last_status_code) == (1, 200)


def test_a_preference_page_save_reaches_the_receiver(
    webhook_worker, receiver, endpoint, subscribed_alice, topic, other_topic, client
):
    webhook_worker.worker()
    path = reverse("preferences", args=[preferences_token(subscribed_alice)])
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

    events = delivered(receiver, "subscription.changed", 2)
    changes = {(e["data"]["topic"], e["data"]["new_status"], e["data"]["source"]) for e in events}
    assert changes == {
        ("product-news", "unsubscribed", "preference_page"),
        ("weekly-digest", "subscribed", "preference_page"),
    }
    assert_signed(receiver, endpoint)


def test_an_esp_complaint_reaches_the_receiver_without_the_address(
    webhook_worker, receiver, endpoint, sent_to, client
):
    webhook_worker.worker()
    john = sent_to("john@example.com", POSTMARK_MID).contact
    assert post_postmark(client, load("postmark/spam_complaint.json")).status_code == 200

    complaint = wait_for(
        lambda: [
            e for e in receiver.events("suppression.added") if e["data"]["reason"] == "complaint"
        ],
        WITHIN_SECONDS,
        "the complaint's suppression.added",
    )
    assert complaint[0]["data"] == {
        "reason": "complaint",
        "scope": "marketing",
        "contact_id": john.pk,
    }
    for event in receiver.events("suppression.added"):
        assert "john@example.com" not in json.dumps(event)
    assert_signed(receiver, endpoint)


def test_an_erasure_reaches_the_receiver_without_the_address(
    webhook_worker, receiver, endpoint, topic, api
):
    webhook_worker.worker()
    erin = ContactFactory(email="erin@example.com", external_id="user-42")
    SubscriptionFactory(contact=erin, topic=topic)
    assert api.delete(f"/api/v1/contacts/{erin.pk}/").status_code == 204

    [event] = delivered(receiver, "contact.erased")
    assert event["data"] == {"contact_id": erin.pk, "external_id": "user-42"}
    # What the erasure's own unsubscribes announced no longer carries the address either.
    assert all("erin@example.com" not in request.body.decode() for request in receiver.requests)
    assert_signed(receiver, endpoint)


def test_an_import_reaches_the_receiver_once_per_change_and_never_for_an_opt_out(
    webhook_worker, receiver, endpoint, subscribed_alice, topic, tmp_path
):
    webhook_worker.worker()
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=Actor(source="api"))
    delivered(receiver, "subscription.changed")  # alice's own unsubscribe, before the import
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("email\nbob@example.com\nALICE@example.com\ncarol@example.com\n")

    call_command(
        "import_contacts", str(csv_file), topic=topic.slug, source="crm", stdout=StringIO()
    )

    events = delivered(receiver, "subscription.changed", 3)[1:]
    assert sorted(
        (e["data"]["email"], e["data"]["new_status"], e["data"]["source"]) for e in events
    ) == [
        ("bob@example.com", "subscribed", "import"),
        ("carol@example.com", "subscribed", "import"),
    ]
    assert_signed(receiver, endpoint)
    # alice stays unsubscribed (rule 5): the outbox, written with the import's chunks, holds
    # only her own unsubscribe
    assert OutboundEvent.objects.filter(contact_id=subscribed_alice.pk).count() == 1


def test_a_failing_receiver_gets_the_event_once_more_than_its_failures_in_order(
    webhook_worker, receiver, endpoint, subscribed_alice, topic, other_topic
):
    SubscriptionFactory(contact=subscribed_alice, topic=other_topic)
    receiver.script = [500, 500]  # then 200
    webhook_worker.worker()
    by = Actor(source="api", actor="api:test")
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=by)
    subscription_unsubscribe(contact=subscribed_alice, topic=other_topic, by=by)

    events = delivered(receiver, "subscription.changed", 4)
    first, second = (
        WebhookDelivery.objects.filter(contact_id=subscribed_alice.pk)
        .order_by("event_id")
        .values_list("event__uid", flat=True)
    )
    assert [e["id"] for e in events] == [str(first)] * 3 + [str(second)]
    assert [e["data"]["topic"] for e in events] == ["product-news"] * 3 + ["weekly-digest"]
    wait_for(
        lambda: WebhookDelivery.objects.filter(status="delivered").count() == 2, 5, "both done"
    )
    log = WebhookDelivery.objects.get(event__uid=first)
    assert (log.attempts, log.last_status_code, log.last_error) == (3, 200, "")
    assert_signed(receiver, endpoint)


def test_a_hanging_receiver_is_cut_off_after_5_seconds_and_retried(
    webhook_worker, receiver, endpoint, subscribed_alice, topic
):
    receiver.script = ["hang"]  # then 200
    webhook_worker.worker()
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=Actor(source="api"))

    wait_for(lambda: len(receiver.requests) >= 2, 20, "the retry after the timeout")
    hung, retried = receiver.requests[:2]
    assert 5 <= retried.at - hung.at < 8  # 5 s limit, then the first retry (1 s here)
    assert hung.body == retried.body
    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(status="delivered").first(), 5, "delivered"
    )
    assert delivery.attempts == 2


def test_the_beat_sweep_delivers_what_was_written_while_no_worker_ran(
    webhook_worker, receiver, endpoint, subscribed_alice, topic
):
    # Written with no worker at all, and the kick it queued is purged (a broker that lost it).
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=Actor(source="api"))
    app.control.purge()
    webhook_worker.worker()
    webhook_worker.beat()
    # Beat's own start-up counts here (its sweep runs every 2 s once it is up).
    [event] = wait_for(
        lambda: receiver.events("subscription.changed"), BEAT_START_SECONDS, "the sweep's kick"
    )
    assert event["data"]["new_status"] == "unsubscribed"
