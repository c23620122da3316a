"""API v1 `GET /topics/{slug}/subscribers.csv`: a streamed CSV, the `read` scope, clear errors."""

from __future__ import annotations

import csv
import io
import logging

from django.http import StreamingHttpResponse

from subscriptions.api.keys import api_key_create
from subscriptions.consent.exports import EXPORT_COLUMNS
from subscriptions.models import Segment
from tests.factories import ContactFactory, SubscriptionFactory
from tests.support.api import ApiClient

V1 = "/api/v1"


def rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_it_streams_a_topics_subscribers_as_csv(api, topic, caplog):
    SubscriptionFactory(contact=ContactFactory(email="ann@example.com"), topic=topic)
    SubscriptionFactory(
        contact=ContactFactory(email="bob@example.com"), topic=topic, status="unsubscribed"
    )

    with caplog.at_level(logging.INFO, logger="subscriptions.consent.exports"):
        response = api.get(f"{V1}/topics/{topic.slug}/subscribers.csv")
        exported = rows(response)

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="{topic.slug}-subscribers-'
    )
    assert [row["email"] for row in exported] == ["ann@example.com"]
    assert list(exported[0]) == list(EXPORT_COLUMNS)
    assert "api:crm exports subscribers" in caplog.text


def test_it_answers_a_client_that_asks_for_text_csv(api, topic):
    SubscriptionFactory(contact=ContactFactory(email="ann@example.com"), topic=topic)

    response = api.get(f"{V1}/topics/{topic.slug}/subscribers.csv", Accept="text/csv")

    assert response.status_code == 200
    assert [row["email"] for row in rows(response)] == ["ann@example.com"]


def test_it_exports_every_standing_when_asked(api, topic):
    SubscriptionFactory(contact=ContactFactory(email="ann@example.com"), topic=topic)
    SubscriptionFactory(
        contact=ContactFactory(email="bob@example.com"), topic=topic, status="unsubscribed"
    )

    response = api.get(f"{V1}/topics/{topic.slug}/subscribers.csv", {"status": "all"})

    assert sorted(row["email"] for row in rows(response)) == ["ann@example.com", "bob@example.com"]


def test_it_answers_404_for_an_unknown_topic(api, db):
    response = api.get(f"{V1}/topics/nope/subscribers.csv")

    assert response.status_code == 404
    assert response.json()["error"] == "unknown_topic"


def test_it_refuses_an_unknown_status(api, topic):
    response = api.get(f"{V1}/topics/{topic.slug}/subscribers.csv", {"status": "everyone"})

    assert response.status_code == 400
    assert "status" in response.json()["detail"]


def test_it_needs_the_read_scope(db, topic):
    _key, secret = api_key_create(name="writer", scopes=["write"])

    response = ApiClient(secret).get(f"{V1}/topics/{topic.slug}/subscribers.csv")

    assert response.status_code == 403
    assert response.json()["error"] == "forbidden_scope"


def test_it_needs_a_key(anonymous_api, topic):
    response = anonymous_api.get(f"{V1}/topics/{topic.slug}/subscribers.csv")

    assert response.status_code == 401


def test_it_is_in_the_openapi_schema(api, db):
    schema = api.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/topics/{slug}/subscribers.csv"]["get"]
    assert "text/csv" in operation["responses"]["200"]["content"]


DANES = {
    "match": "all",
    "groups": [
        {"match": "any", "conditions": [{"field": "locale", "op": "equals", "value": "da"}]}
    ],
}


def test_it_exports_only_the_subscribers_a_segment_selects(api, topic):
    SubscriptionFactory(contact=ContactFactory(email="dan@example.com", locale="da"), topic=topic)
    SubscriptionFactory(contact=ContactFactory(email="eve@example.com", locale="en"), topic=topic)
    SubscriptionFactory(
        contact=ContactFactory(email="dora@example.com", locale="da"),
        topic=topic,
        status="unsubscribed",
    )
    segment = Segment.objects.create(name="Danes", topic=topic, rules=DANES)

    response = api.get(f"{V1}/segments/{segment.pk}/subscribers.csv")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="{topic.slug}-danes-subscribers-'
    )
    assert [row["email"] for row in rows(response)] == ["dan@example.com"]


def test_a_segment_export_of_a_segment_without_topic_asks_for_one(api, topic):
    segment = Segment.objects.create(name="Danes anywhere", rules=DANES)

    assert api.get(f"{V1}/segments/{segment.pk}/subscribers.csv").json()["error"] == "invalid"
    named = api.get(f"{V1}/segments/{segment.pk}/subscribers.csv", {"topic": topic.slug})
    assert named.status_code == 200
    assert api.get(f"{V1}/segments/999999/subscribers.csv").status_code == 404
