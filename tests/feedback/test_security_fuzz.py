"""Hypothesis throws nested, huge and NUL-laden bodies at every /anymail/ URL (mounted or not)
and every API endpoint: the answer is never a 5xx (rule 7; issue 9, road 10).

The Django test client re-raises any exception a view lets escape, so a crash fails the test
even before its status is looked at.
"""

from __future__ import annotations

import json

import pytest
from anymail import urls as anymail_urls
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from subscriptions.models import Campaign
from tests.feedback.test_webhooks import AUTH
from tests.support.api import api_key

__all__ = ["api_key"]  # a fixture, used by name

pytestmark = pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")

# Every URL Anymail routes (tracking and inbound, of every ESP) and a few it does not.
ANYMAIL_URLS = sorted(
    {
        "/anymail/" + str(p.pattern).lstrip("^").replace("(_mime)?/$", "/")
        for p in anymail_urls.urlpatterns
    }
    | {"/anymail/", "/anymail/acme/tracking/", "/anymail/postmark/tracking/x/"}
)

# Every API endpoint, with ids and slugs filled in (an existing contact, campaign and topic).
API_PATHS = [
    "/api/v1/topics/",
    "/api/v1/contacts/",
    "/api/v1/contacts/{contact}/",
    "/api/v1/contacts/{contact}/subscriptions/{topic}/",
    "/api/v1/contacts/{contact}/unsubscribe-all/",
    "/api/v1/contacts/{contact}/consent-events/",
    "/api/v1/contacts/{contact}/signals/",
    "/api/v1/contacts/{contact}/export/",
    "/api/v1/suppressions/",
    "/api/v1/suppressions/check/",
    "/api/v1/transactional/",
    "/api/v1/campaigns/",
    "/api/v1/campaigns/{campaign}/",
    "/api/v1/campaigns/{campaign}/send/",
    "/api/v1/campaigns/{campaign}/pause/",
    "/api/v1/campaigns/{campaign}/resume/",
    "/api/v1/campaigns/{campaign}/cancel/",
    "/api/v1/no-such-endpoint/",
]

SMALL_BODY_LIMIT = 64 * 1024  # DATA_UPLOAD_MAX_MEMORY_SIZE during these tests: huge stays quick

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["\x00", "a\x00b", "john@example.com\x00", "\x00" * 50]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=15,
)


@st.composite
def bodies(draw) -> bytes:
    kind = draw(st.sampled_from(["nested", "huge", "nul", "json", "bytes", "empty"]))
    if kind == "nested":
        depth = draw(st.sampled_from([63, 64, 65, 100, 1_000, 30_000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('[{"x":', "}]")]))
        tail = draw(st.sampled_from(["", "1", '"\\u0000"']))
        body = opener * depth + tail + closer * draw(st.sampled_from([0, depth]))
        return body.encode()
    if kind == "huge":
        size = draw(st.sampled_from([SMALL_BODY_LIMIT - 10, SMALL_BODY_LIMIT + 10, 400_000]))
        filler = draw(st.sampled_from(["a", "[", "\x00", "é"]))
        return json.dumps([filler * (size // 2)]).encode()[: size * 2]
    if kind == "nul":
        value = draw(json_values)
        text = json.dumps(value)
        return text.encode() + draw(st.sampled_from([b"", b"\x00", b"\x00" * 10]))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    return b""


CONTENT_TYPES = [
    "application/json",
    "text/plain; charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/octet-stream",
]


@pytest.fixture
def small_bodies(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = SMALL_BODY_LIMIT


@pytest.fixture
def targets(db, topic, alice, api_key):
    campaign = Campaign.objects.create(name="Fuzz", topic=topic, subject="Hi")
    return {"contact": alice.pk, "campaign": campaign.pk, "topic": topic.slug, "key": api_key}


FUZZ = hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(
    url=st.sampled_from(ANYMAIL_URLS),
    body=bodies(),
    content_type=st.sampled_from(CONTENT_TYPES),
    authenticated=st.booleans(),
    method=st.sampled_from(["post", "post", "post", "get", "put", "head"]),
)
def test_it_never_answers_5xx_at_any_anymail_url(
    db, small_bodies, url, body, content_type, authenticated, method
):
    client = Client()
    headers = {"HTTP_AUTHORIZATION": AUTH} if authenticated else {}
    if method in ("get", "head"):
        response = getattr(client, method)(url, **headers)
    else:
        response = client.generic(method.upper(), url, body, content_type, **headers)
    assert response.status_code < 500, (url, response.status_code)


@FUZZ
@given(
    path=st.sampled_from(API_PATHS),
    body=bodies(),
    content_type=st.sampled_from(CONTENT_TYPES[:3]),
    method=st.sampled_from(["post", "put", "patch", "get", "delete"]),
    query=st.sampled_from(
        ["", "?cursor=%00", "?page_size=%00", "?email=%00", "?cursor=cD1hYmM%3D"]
    ),
)
def test_it_never_answers_5xx_at_any_api_endpoint(
    small_bodies, targets, path, body, content_type, method, query
):
    client = Client()
    url = path.format(**targets) + query
    headers = {"HTTP_AUTHORIZATION": f"Bearer {targets['key'].secret}"}
    if method in ("get", "delete"):
        response = getattr(client, method)(url, **headers)
    else:
        response = client.generic(method.upper(), url, body, content_type, **headers)
    assert response.status_code < 500, (url, method, response.status_code)
