"""Bad input never 500s (issue 9, road 10), written as the attacks that used to.

Deeply nested JSON on the API (RecursionError inside DRF's parser), a NUL in a topic slug in the
URL path (PostgreSQL refuses NUL in text), crafted pagination cursors (their position went into
the query as is) and NUL in query parameters.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest

from subscriptions.models import ConsentEvent, Contact, Subscription
from subscriptions.safejson import exceeds_depth
from tests.support.api import api, api_key

__all__ = ["api", "api_key"]  # fixtures, used by name


def nested(depth: int) -> str:
    return '{"email": "deep@example.com", "attributes": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize(
    "path", ["/api/v1/contacts/", "/api/v1/topics/", "/api/v1/suppressions/", "/api/v1/campaigns/"]
)
def test_it_refuses_deeply_nested_json_with_400_malformed_json(api, path):
    response = api.post(path, raw="[" * 200_000 + "]" * 200_000)
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"
    assert Contact.objects.count() == 0


def test_it_caps_depth_at_64_and_accepts_what_is_below(api):
    assert api.post("/api/v1/contacts/", raw=nested(64)).json()["error"] == "malformed_json"
    shallow = api.post(
        "/api/v1/contacts/",
        {"email": "shallow@example.com", "attributes": {"a": {"b": [{"c": [1, [2]]}]}}},
    )
    assert shallow.status_code == 201, shallow.content


def test_it_does_not_count_brackets_inside_strings(api):
    body = json.dumps({"email": "brackets@example.com", "attributes": {"note": "[" * 500}})
    assert api.post("/api/v1/contacts/", raw=body).status_code == 201


@pytest.mark.parametrize("slug", ["%00", "news%00", "%00%00", "n%C3%A9ws", "a.b", "x" * 65])
def test_it_answers_a_non_slug_topic_in_the_path_with_json_4xx(api, alice, slug):
    response = api.put(
        f"/api/v1/contacts/{alice.pk}/subscriptions/{slug}/", {"status": "subscribed"}
    )
    assert response.status_code in (400, 404)
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] in ("not_found", "unknown_topic")
    assert Subscription.objects.count() == 0
    assert ConsentEvent.objects.count() == 0


def cursor(query: str) -> str:
    return quote(base64.b64encode(query.encode()).decode())


@pytest.mark.parametrize(
    "crafted",
    [
        cursor("p=abc"),
        cursor("p=\x00"),
        cursor("o=1&p=1.5"),
        cursor("r=1&p=-7"),
        cursor("p=" + "9" * 30),
        cursor("p=" + "9" * 5000),
        "%00",
        "not base64 at all",
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/topics/", "/api/v1/contacts/", "/api/v1/campaigns/"])
def test_it_answers_a_crafted_cursor_with_400(api, db, crafted, path):
    response = api.client.get(f"{path}?cursor={crafted}", headers=api.headers())
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"


def test_it_still_follows_its_own_cursors(api, topic, other_topic):
    first = api.get("/api/v1/topics/", {"page_size": 1}).json()
    second = api.client.get(first["next"], headers=api.headers()).json()
    assert [t["slug"] for t in first["results"] + second["results"]] == [
        topic.slug,
        other_topic.slug,
    ]


@pytest.mark.parametrize("query", ["email=a%00b%40example.com", "external_id=%00", "x%00=1"])
def test_it_answers_nul_in_a_query_parameter_with_400(api, db, query):
    response = api.client.get(f"/api/v1/contacts/?{query}", headers=api.headers())
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("text", "too_deep"),
    [
        ("[" * 64 + "]" * 64, False),
        ("[" * 65 + "]" * 65, True),
        ('{"a": "' + "[" * 100 + '"}', False),  # brackets inside a string do not nest
        ('{"a": "\\"' + "[" * 100 + '"}', False),  # nor after an escaped quote
        ('["\\\\", ' + "[" * 70 + "]" * 70 + "]", True),  # an escaped backslash ends no string
        ("[" * 65, True),  # unterminated: refused all the same
        ('"' + "[" * 100, True),  # an unterminated string over-counts, safely
    ],
)
def test_it_measures_json_depth_without_parsing(text, too_deep):
    assert exceeds_depth(text) is too_deep


@pytest.mark.parametrize("query", ["topic=%00", "topic=news%00", "topic=%00&topic=product-news"])
def test_it_ignores_a_non_slug_topic_on_the_subscribe_page(client, topic, query):
    response = client.get(f"/subscribe/?{query}")
    assert response.status_code == 200
