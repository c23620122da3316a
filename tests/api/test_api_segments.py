"""API v1 segments: CRUD with scopes, validation errors naming the rule, the count, and a
campaign's `segment`."""

from __future__ import annotations

import pytest

from subscriptions.api.keys import api_key_create
from subscriptions.models import Campaign, Segment
from subscriptions.models.choices import CampaignStatus
from tests.sending_factories import CampaignFactory, subscribers
from tests.support.api import ApiClient

DANES = {
    "match": "all",
    "groups": [
        {"match": "any", "conditions": [{"field": "locale", "op": "equals", "value": "da"}]}
    ],
}


def patch(api: ApiClient, path: str, data: dict):
    return api._send("patch", path, data, None, "application/json", {})


@pytest.fixture
def read_only_api(db):
    _key, secret = api_key_create(name="reports", scopes=["read"])
    return ApiClient(secret)


def test_it_creates_reads_changes_and_deletes_a_segment(api, topic):
    created = api.post("/api/v1/segments/", {"name": "Danes", "topic": topic.slug, "rules": DANES})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["topic"] == topic.slug
    assert body["rules"] == DANES
    url = f"/api/v1/segments/{body['id']}/"

    assert api.get(url).json()["name"] == "Danes"
    assert [s["id"] for s in api.get("/api/v1/segments/").json()["results"]] == [body["id"]]

    changed = patch(api, url, {"name": "Danish readers", "topic": None})
    assert changed.status_code == 200
    assert changed.json()["topic"] is None
    assert changed.json()["rules"] == DANES

    assert api.delete(url).status_code == 204
    assert not Segment.objects.exists()
    assert api.get(url).status_code == 404


@pytest.mark.parametrize(
    ("rules", "detail"),
    [
        (
            {"groups": [{"conditions": [{"field": "shoe_size", "op": "equals", "value": 9}]}]},
            "rules.groups[0].conditions[0].field: unknown field 'shoe_size'",
        ),
        (
            {"groups": [{"conditions": [{"field": "locale", "op": "like", "value": "da"}]}]},
            "rules.groups[0].conditions[0].op: 'like' does not apply to locale",
        ),
        (
            {"groups": [{"conditions": [{"field": "country", "op": "in", "value": "DK"}]}]},
            "rules.groups[0].conditions[0].value: a non-empty list is required.",
        ),
    ],
)
def test_bad_rules_answer_400_naming_the_rule_and_store_nothing(api, rules, detail):
    response = api.post("/api/v1/segments/", {"name": "Bad", "rules": rules})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_segment"
    assert response.json()["detail"].startswith(detail)
    assert not Segment.objects.exists()


def test_a_patch_with_bad_rules_changes_nothing(api):
    segment = Segment.objects.create(name="Kept", rules=DANES)
    bad = {"groups": [{"conditions": [{"field": "locale", "op": "in", "value": []}]}]}

    response = patch(api, f"/api/v1/segments/{segment.pk}/", {"name": "New", "rules": bad})

    assert response.status_code == 400
    segment.refresh_from_db()
    assert (segment.name, segment.rules) == ("Kept", DANES)


def test_reading_needs_read_and_writing_needs_write(read_only_api, topic):
    segment = Segment.objects.create(name="Danes", rules=DANES)

    assert read_only_api.get(f"/api/v1/segments/{segment.pk}/").status_code == 200
    assert read_only_api.get(f"/api/v1/segments/{segment.pk}/count/").status_code == 200
    refused = read_only_api.post("/api/v1/segments/", {"name": "X", "rules": {}})
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden_scope"
    assert read_only_api.delete(f"/api/v1/segments/{segment.pk}/").status_code == 403


def test_it_counts_the_contacts_a_segment_matches_now(api, topic):
    subscribers(topic, 3, locale="da")
    subscribers(topic, 2, locale="en")
    segment = Segment.objects.create(name="Danes", topic=topic, rules=DANES)

    response = api.get(f"/api/v1/segments/{segment.pk}/count/")

    assert response.json() == {"count": 3, "topic": topic.slug}


def test_a_campaign_takes_and_returns_its_segment(api, topic):
    segment = Segment.objects.create(name="Danes", topic=topic, rules=DANES)

    response = api.post(
        "/api/v1/campaigns/",
        {
            "name": "N",
            "topic": topic.slug,
            "subject": "Hi",
            "text_body": "Hi",
            "segment": segment.pk,
        },
    )

    assert response.status_code == 201, response.json()
    assert response.json()["segment"] == segment.pk
    assert Campaign.objects.get().segment == segment
    assert api.get(f"/api/v1/campaigns/{response.json()['id']}/").json()["segment"] == segment.pk


def test_a_campaign_refuses_an_unknown_segment_or_one_of_another_topic(api, topic, other_topic):
    other = Segment.objects.create(name="Other", topic=other_topic, rules={})
    payload = {"name": "N", "topic": topic.slug, "subject": "Hi", "text_body": "Hi"}

    unknown = api.post("/api/v1/campaigns/", {**payload, "segment": 999_999})
    mismatch = api.post("/api/v1/campaigns/", {**payload, "segment": other.pk})

    assert (unknown.status_code, unknown.json()["error"]) == (400, "unknown_segment")
    assert (mismatch.status_code, mismatch.json()["error"]) == (400, "segment_topic_mismatch")
    assert not Campaign.objects.exists()


def test_a_segment_used_by_a_campaign_cannot_be_deleted(api, topic):
    segment = Segment.objects.create(name="Danes", topic=topic, rules=DANES)
    CampaignFactory(topic=topic, segment=segment, status=CampaignStatus.SENT)

    response = api.delete(f"/api/v1/segments/{segment.pk}/")

    assert (response.status_code, response.json()["error"]) == (409, "segment_in_use")
    assert Segment.objects.filter(pk=segment.pk).exists()
