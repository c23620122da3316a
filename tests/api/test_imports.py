"""POST /api/v1/imports/ and GET /api/v1/imports/{id}/: the same import as the command."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from subscriptions.api.keys import api_key_create
from subscriptions.consent import tasks
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import contact_unsubscribe_all, subscription_unsubscribe
from subscriptions.consent.suppression import suppression_add
from subscriptions.models import ConsentEvent, Contact, Import, Subscription
from tests.factories import ContactFactory, SubscriptionFactory
from tests.support.api import ApiClient

pytestmark = pytest.mark.django_db

URL = "/api/v1/imports/"


def upload(api, content: bytes, **fields):
    data = {"file": SimpleUploadedFile("list.csv", content, "text/csv"), "source": "crm"}
    data.update(fields)
    return api.client.post(URL, data, headers=api.headers())


def start_and_run(api, content: bytes, capture, **fields) -> dict:
    """Upload, check the 202 and the task queued on commit, run the task as a worker would."""
    with capture(execute=False) as callbacks:
        response = upload(api, content, **fields)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and len(callbacks) == 1
    tasks.import_run(import_id=body["id"])
    answer = api.get(f"{URL}{body['id']}/")
    assert answer.status_code == 200
    return answer.json()


def test_it_imports_through_the_api_keeping_every_opt_out(
    api, topic, other_topic, django_capture_on_commit_callbacks
):
    person = Actor(source="preference_page")
    left = ContactFactory(email="left@example.com")
    SubscriptionFactory(contact=left, topic=topic)
    subscription_unsubscribe(contact=left, topic=topic, by=person)
    all_out = ContactFactory(email="allout@example.com")
    SubscriptionFactory(contact=all_out, topic=other_topic)
    contact_unsubscribe_all(contact=all_out, by=person)
    suppression_add(email="bounced@example.com", reason="hard_bounce", by=Actor(source="admin"))
    ledger = ConsentEvent.objects.count()
    content = (
        b"email,first_name\nleft@example.com,L\nallout@example.com,A\nbounced@example.com,B\n"
        b"new@example.com,N\nnot-an-address,X\n"
    )
    body = start_and_run(
        api,
        content,
        django_capture_on_commit_callbacks,
        topic=topic.slug,
        legal_basis="soft_opt_in",
    )
    assert body["status"] == "done" and body["rows"] == 5
    expected = {
        "created": 1,
        "subscribed": 1,
        "already_subscribed": 0,
        "kept_unsubscribed": 1,
        "kept_suppressed": 2,
        "invalid": 1,
    }
    assert {name: body["counts"][name] for name in expected} == expected
    assert body["errors"] == [{"line": 6, "detail": "not an email address"}]
    assert Subscription.objects.get(contact=left, topic=topic).status == "unsubscribed"
    assert not Subscription.objects.filter(contact=all_out, topic=topic).exists()
    assert not Contact.objects.filter(email="bounced@example.com").exists()
    new = Subscription.objects.get(contact__email="new@example.com", topic=topic)
    assert (new.status, new.legal_basis) == ("subscribed", "soft_opt_in")
    assert ConsentEvent.objects.count() == ledger + 1


def test_it_refuses_bad_files_and_options_clearly(api, topic):
    cases = [
        (b"first_name\nAnn\n", {"topic": topic.slug}, 400, "invalid_file", "email"),
        (
            "email\nzoe@example.com\n".encode("utf-16"),
            {"topic": topic.slug},
            400,
            "invalid_file",
            "UTF-8",
        ),
        (b"email\na@example.com\n", {"topic": "nope"}, 400, "unknown_topic", "nope"),
        (b"email\na@example.com\n", {}, 400, "invalid", "topic"),
        (
            b"email," + b",".join(b"c%d" % n for n in range(100_000)) + b"\na@example.com\n",
            {"topic": topic.slug},
            400,
            "invalid_file",
            "columns",
        ),
    ]
    for content, fields, status, code, words in cases:
        response = upload(api, content, **fields)
        assert response.status_code == status, (fields, response.content)
        body = response.json()
        assert body["error"] == code and words in body["detail"], body
    assert not Import.objects.exists() and not Contact.objects.exists()


def test_a_second_import_of_a_topic_waits_for_the_first(api, topic):
    assert upload(api, b"email\na@example.com\n", topic=topic.slug).status_code == 202
    response = upload(api, b"email\nb@example.com\n", topic=topic.slug)
    assert response.status_code == 409 and response.json()["error"] == "import_running"
    assert Import.objects.count() == 1


def test_it_needs_the_write_scope_and_hides_unknown_imports(api, topic):
    _key, secret = api_key_create(name="reader", scopes=["read"])
    reader = ApiClient(secret)
    response = upload(reader, b"email\na@example.com\n", topic=topic.slug)
    assert response.status_code == 403 and response.json()["error"] == "forbidden_scope"
    assert api.get(f"{URL}999999/").status_code == 404
