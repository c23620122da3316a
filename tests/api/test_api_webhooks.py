"""API v1 webhooks: create (secret once), list and read with the delivery log, delete."""

from __future__ import annotations

import datetime

import pytest

from subscriptions.api.keys import api_key_create
from subscriptions.consent.subscriptions import subscription_unsubscribe
from subscriptions.integrations.webhooks import Answer, delivery_record
from subscriptions.models import WebhookDelivery, WebhookEndpoint
from tests.support.api import ApiClient

pytestmark = pytest.mark.usefixtures("private_networks")

URL = "http://127.0.0.1:9/hook"


@pytest.fixture
def private_networks(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


def create(api, events=("subscription.changed",), url=URL):
    return api.post("/api/v1/webhooks/", {"url": url, "events": list(events)})


def test_it_creates_an_endpoint_and_shows_its_secret_once(api):
    response = create(api, events=["subscription.changed", "contact.erased"])
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "url", "events", "secret"}
    assert body["url"] == URL and body["events"] == ["subscription.changed", "contact.erased"]
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret == body["secret"] and endpoint.created_by == "api:crm"

    listed = api.get("/api/v1/webhooks/").json()
    one = api.get(f"/api/v1/webhooks/{body['id']}/").json()
    assert body["secret"] not in str(listed) and body["secret"] not in str(one)
    assert "secret" not in listed["results"][0] and "secret" not in one


def test_an_unknown_event_type_is_refused(api):
    response = create(api, events=["subscription.changed", "contact.birthday"])
    assert response.status_code == 400
    assert response.json()["error"] == "unknown_event_type"
    assert "contact.birthday" in response.json()["detail"]
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"url": URL}, {"url": URL, "events": []}, {"url": URL, "events": "contact.erased"}],
)
def test_bad_input_changes_nothing(api, body):
    response = api.post("/api/v1/webhooks/", body)
    assert response.status_code == 400
    assert WebhookEndpoint.objects.count() == 0


def test_get_shows_the_delivery_log(api, subscribed_alice, topic, actor):
    endpoint_id = create(api).json()["id"]
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=actor)
    delivery = WebhookDelivery.objects.select_related("event").get()
    retry_at = delivery_record(delivery=delivery, answer=Answer(503, "The receiver answered 503."))

    [listed] = api.get("/api/v1/webhooks/").json()["results"]
    assert listed["is_active"] is True
    log = listed["log"]
    assert (log["pending"], log["failed"], log["delivered"], log["gave_up"]) == (0, 1, 0, 0)
    assert log["last_status_code"] == 503
    assert log["last_error"] == "The receiver answered 503."
    assert log["next_attempt_at"].endswith("Z")
    assert datetime.datetime.fromisoformat(log["next_attempt_at"]) == retry_at
    one = api.get(f"/api/v1/webhooks/{endpoint_id}/").json()
    [recent] = one["deliveries"]
    assert recent["type"] == "subscription.changed" and recent["status"] == "failed"
    assert recent["event_id"] == str(delivery.event.uid) and recent["attempts"] == 1


def test_delete_removes_the_endpoint(api):
    endpoint_id = create(api).json()["id"]
    assert api.delete(f"/api/v1/webhooks/{endpoint_id}/").status_code == 204
    assert WebhookEndpoint.objects.count() == 0
    assert api.get(f"/api/v1/webhooks/{endpoint_id}/").status_code == 404
    assert api.delete(f"/api/v1/webhooks/{endpoint_id}/").status_code == 404
    assert api.get("/api/v1/webhooks/99999999999999999999/").status_code == 404


def test_scopes_write_to_change_read_to_look(db):
    _key, reader_secret = api_key_create(name="reader", scopes=["read"])
    reader = ApiClient(reader_secret)
    response = create(reader)
    assert response.status_code == 403 and response.json()["error"] == "forbidden_scope"
    assert reader.get("/api/v1/webhooks/").status_code == 200
    _key, writer_secret = api_key_create(name="writer", scopes=["write"])
    writer = ApiClient(writer_secret)
    endpoint_id = create(writer).json()["id"]
    assert writer.get("/api/v1/webhooks/").status_code == 403
    assert reader.delete(f"/api/v1/webhooks/{endpoint_id}/").status_code == 403
    assert ApiClient(None).get("/api/v1/webhooks/").status_code == 401
