from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from subscriptions.api.keys import api_key_create, api_key_revoke
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import contact_unsubscribe_all, subscription_unsubscribe
from subscriptions.consent.suppression import suppression_add
from subscriptions.models import (
    ApiKey,
    Campaign,
    ConsentEvent,
    Contact,
    Subscription,
    Suppression,
    Topic,
)
from subscriptions.models.transactional import TransactionalMessage

# Staff adding a suppression by hand (source `admin`).
STAFF = Actor(source="admin")

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


def sub_url(contact, topic_slug):
    return f"{V1}/contacts/{contact.pk}/subscriptions/{topic_slug}/"


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"] == code, body
    assert body["detail"]


# --- keys and auth --------------------------------------------------------------------------


def test_it_prints_a_new_key_once_on_its_last_line(capsys):
    call_command("create_api_key", "newsletter-sync")
    out = capsys.readouterr().out.strip().splitlines()
    secret = out[-1]
    key = ApiKey.objects.get(name="newsletter-sync")
    assert secret.startswith(key.prefix)
    assert secret not in (key.hashed_key, key.prefix)
    assert len(key.hashed_key) == 64


def test_it_answers_401_without_a_key(anonymous_api):
    response = anonymous_api.get(f"{V1}/topics/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_answers_401_for_an_unknown_key(anonymous_api):
    anonymous_api.secret = "pc_not-a-real-key"
    assert_error(anonymous_api.get(f"{V1}/topics/"), 401, "invalid_key")


def test_it_answers_401_for_a_wrong_scheme(api):
    response = api.get(f"{V1}/topics/", Authorization=f"Basic {api.secret}")
    assert_error(response, 401, "invalid_key")


def test_it_answers_401_for_a_revoked_key(api, api_key):
    assert api.get(f"{V1}/topics/").status_code == 200
    api_key_revoke(key=api_key)
    assert_error(api.get(f"{V1}/topics/"), 401, "invalid_key")


def test_it_records_when_a_key_was_last_used(api, api_key):
    api.get(f"{V1}/topics/")
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


@override_settings(API_RATE_LIMIT=3)
def test_it_rate_limits_per_key(api, db):
    for _ in range(3):
        assert api.get(f"{V1}/topics/").status_code == 200
    response = api.get(f"{V1}/topics/")
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    _other, secret = api_key_create(name="other")
    api.secret = secret
    assert api.get(f"{V1}/topics/").status_code == 200  # the limit is per key


# --- generic errors -------------------------------------------------------------------------


def test_it_answers_malformed_json_with_400(api):
    assert_error(api.post(f"{V1}/topics/", raw="{not json"), 400, "malformed_json")


def test_it_answers_a_form_body_with_415(api):
    response = api.post(
        f"{V1}/topics/", raw="slug=a", content_type="application/x-www-form-urlencoded"
    )
    assert_error(response, 415, "unsupported_media_type")


def test_it_answers_a_wrong_method_with_405(api):
    assert_error(api.delete(f"{V1}/topics/"), 405, "method_not_allowed")


def test_it_answers_unknown_api_paths_with_json_404(api):
    assert_error(api.get(f"{V1}/nothing-here/"), 404, "not_found")


def test_it_rejects_unknown_fields(api):
    response = api.post(f"{V1}/topics/", {"slug": "a", "name": "A", "colour": "red"})
    assert_error(response, 400, "invalid")
    assert "colour" in response.json()["detail"]
    assert not Topic.objects.filter(slug="a").exists()


def test_it_rejects_a_body_that_is_not_an_object(api):
    assert_error(api.post(f"{V1}/topics/", ["slug"]), 400, "invalid")


def test_it_serves_the_schema_and_docs_without_a_key(anonymous_api):
    schema = anonymous_api.client.get("/api/schema/", headers={"Accept": "application/json"})
    assert schema.status_code == 200
    assert "/api/v1/contacts/{id}/subscriptions/{topic}/" in schema.json()["paths"]
    docs = anonymous_api.client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
    assert b"/static/drf_spectacular_sidecar/" in docs.content


# --- topics ---------------------------------------------------------------------------------


def test_it_creates_and_lists_topics(api):
    response = api.post(f"{V1}/topics/", {"slug": "deals", "name": "Deals"})
    assert response.status_code == 201
    assert response.json()["slug"] == "deals"
    assert response.json()["channel"] == "email"
    listed = api.get(f"{V1}/topics/").json()
    assert [t["slug"] for t in listed["results"]] == ["deals"]
    assert listed["next"] is None


def test_it_refuses_a_taken_slug(api, topic):
    assert_error(
        api.post(f"{V1}/topics/", {"slug": topic.slug, "name": "X"}), 409, "already_exists"
    )


def test_it_refuses_a_bad_slug_type(api):
    assert_error(api.post(f"{V1}/topics/", {"slug": 12, "name": ["x"]}), 400, "invalid")
    assert_error(api.post(f"{V1}/topics/", {"slug": "has space", "name": "X"}), 400, "invalid")


def test_it_paginates_with_a_next_link(api):
    for n in range(3):
        Topic.objects.create(slug=f"t{n}", name=f"T{n}")
    first = api.get(f"{V1}/topics/", {"page_size": 2}).json()
    assert len(first["results"]) == 2
    assert first["next"]
    second = api.get(first["next"]).json()
    assert [t["slug"] for t in second["results"]] == ["t2"]
    assert second["next"] is None


# --- contacts -------------------------------------------------------------------------------


def test_it_creates_a_contact_then_finds_it_again(api):
    created = api.post(f"{V1}/contacts/", {"email": "Bob@Example.COM", "attributes": {"a": 1}})
    assert created.status_code == 201
    body = created.json()
    assert body["email"] == "Bob@example.com"
    assert body["subscriptions"] == []
    again = api.post(f"{V1}/contacts/", {"email": "bob@example.com", "external_id": "u1"})
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert again.json()["external_id"] == "u1"
    assert again.json()["attributes"] == {"a": 1}
    assert Contact.objects.count() == 1


def test_it_refuses_an_invalid_address(api):
    for email in ("not-an-address", "a@"):
        assert_error(api.post(f"{V1}/contacts/", {"email": email}), 400, "invalid_email")
    for email in ("", 42, None):
        assert_error(api.post(f"{V1}/contacts/", {"email": email}), 400, "invalid")
    assert not Contact.objects.exists()


def test_it_refuses_attributes_that_are_not_an_object(api):
    response = api.post(f"{V1}/contacts/", {"email": "a@example.com", "attributes": [1]})
    assert_error(response, 400, "invalid")
    response = api.post(f"{V1}/contacts/", {"email": "a@example.com", "attributes": {"x": "\x00"}})
    assert_error(response, 400, "invalid")


def test_it_refuses_an_external_id_of_another_contact(api, alice):
    alice.external_id = "u1"
    alice.save()
    response = api.post(f"{V1}/contacts/", {"email": "bob@example.com", "external_id": "u1"})
    assert_error(response, 409, "external_id_taken")


def test_it_finds_a_contact_by_email(api, subscribed_alice, topic):
    found = api.get(f"{V1}/contacts/", {"email": "ALICE@example.com"}).json()
    assert [c["id"] for c in found["results"]] == [subscribed_alice.pk]
    assert found["results"][0]["subscriptions"] == [
        {
            "topic": topic.slug,
            "status": "subscribed",
            "legal_basis": "consent",
            "frequency": "immediate",
            "paused_until": None,
        }
    ]
    assert api.get(f"{V1}/contacts/", {"email": "nobody@example.com"}).json()["results"] == []
    assert api.get(f"{V1}/contacts/", {"email": "garbage"}).json()["results"] == []


def test_it_gets_a_contact_or_404(api, alice):
    assert api.get(f"{V1}/contacts/{alice.pk}/").json()["email"] == alice.email
    assert_error(api.get(f"{V1}/contacts/{alice.pk + 1000}/"), 404, "not_found")
    assert_error(api.get(f"{V1}/contacts/99999999999999999999999/"), 404, "not_found")


# --- subscriptions --------------------------------------------------------------------------


def test_it_subscribes_with_evidence_in_the_ledger(api, alice, topic):
    response = api.put(
        sub_url(alice, topic.slug), {"status": "subscribed", "evidence": "signup form v3"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "subscribed"
    assert response.json()["topic"] == topic.slug
    event = ConsentEvent.objects.get(contact=alice)
    assert (event.source, event.actor, event.evidence) == ("api", "api:crm", "signup form v3")
    assert event.new_status == "subscribed"


def test_it_unsubscribes(api, subscribed_alice, topic):
    response = api.put(sub_url(subscribed_alice, topic.slug), {"status": "unsubscribed"})
    assert response.json()["status"] == "unsubscribed"
    event = ConsentEvent.objects.get(contact=subscribed_alice)
    assert (event.action, event.source, event.actor) == ("unsubscribed", "api", "api:crm")


def test_it_refuses_to_resubscribe_an_opt_out(api, subscribed_alice, topic):
    """Rule 5: an API call never turns an unsubscribe back into a subscription."""
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=Actor(source="one_click"))
    response = api.put(sub_url(subscribed_alice, topic.slug), {"status": "subscribed"})
    assert_error(response, 409, "resubscribe_requires_confirmation")
    assert Subscription.objects.get(contact=subscribed_alice).status == "unsubscribed"
    assert not ConsentEvent.objects.filter(source="api").exists()


def test_it_refuses_to_subscribe_a_suppressed_address(api, alice, topic):
    contact_unsubscribe_all(contact=alice, by=Actor(source="one_click"))
    response = api.put(sub_url(alice, topic.slug), {"status": "subscribed"})
    assert_error(response, 409, "resubscribe_requires_confirmation")
    assert not Subscription.objects.filter(contact=alice, status="subscribed").exists()


def test_it_asks_an_opt_out_to_confirm_by_email(
    api, subscribed_alice, topic, send_queued_transactional
):
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=Actor(source="one_click"))
    response = api.put(
        sub_url(subscribed_alice, topic.slug), {"status": "subscribed", "double_opt_in": True}
    )
    assert response.status_code == 200, response.content
    # Pending (not marketable) until the person confirms; a confirmation is on its way.
    assert response.json()["status"] == "pending"
    assert response.json()["confirmation_sent"] is True
    outbox = send_queued_transactional()
    assert [m.to for m in outbox] == [["alice@example.com"]]
    event = ConsentEvent.objects.filter(source="api").get()
    assert (event.action, event.actor) == ("subscribe_requested", "api:crm")


def test_it_makes_a_new_double_opt_in_pending(api, alice, topic):
    response = api.put(sub_url(alice, topic.slug), {"status": "subscribed", "double_opt_in": True})
    assert response.json()["status"] == "pending"


def test_it_answers_404_for_an_unknown_topic(api, alice):
    assert_error(api.put(sub_url(alice, "nope"), {"status": "subscribed"}), 404, "unknown_topic")
    assert not ConsentEvent.objects.exists()


def test_it_refuses_bad_subscription_input(api, alice, topic):
    url = sub_url(alice, topic.slug)
    for body in (
        {"status": "maybe"},
        {},
        {"status": "subscribed", "double_opt_in": "perhaps"},
        {"status": "subscribed", "legal_basis": "whim"},
        {"status": "subscribed", "surprise": 1},
        {"status": "subscribed", "implied_by": "purchase"},
    ):
        assert_error(api.put(url, body), 400, "invalid")
    assert not ConsentEvent.objects.exists()


def test_it_unsubscribes_from_all(api, subscribed_alice, topic):
    response = api.post(
        f"{V1}/contacts/{subscribed_alice.pk}/unsubscribe-all/", {"evidence": "call"}
    )
    assert response.status_code == 200
    assert response.json()["subscriptions"][0]["status"] == "unsubscribed"
    assert Suppression.objects.filter(address_hash=subscribed_alice.address_hash).exists()
    events = ConsentEvent.objects.filter(contact=subscribed_alice)
    assert {(e.action, e.source, e.actor, e.evidence) for e in events} == {
        ("unsubscribed", "api", "api:crm", "call"),
        ("unsubscribed_all", "api", "api:crm", "call"),
    }


def test_it_lists_the_ledger_oldest_first(api, alice, topic):
    api.put(sub_url(alice, topic.slug), {"status": "subscribed"})
    api.put(sub_url(alice, topic.slug), {"status": "unsubscribed"})
    events = api.get(f"{V1}/contacts/{alice.pk}/consent-events/").json()["results"]
    assert [e["action"] for e in events] == ["subscribed", "unsubscribed"]
    assert events[0]["topic"] == topic.slug
    assert events[0]["source"] == "api"
    assert set(events[0]) >= {"id", "old_status", "new_status", "policy_version", "created_at"}


# --- suppressions ---------------------------------------------------------------------------


def test_it_suppresses_and_checks_an_address(api, alice):
    response = api.post(f"{V1}/suppressions/", {"email": "ALICE@example.com", "reason": "manual"})
    assert response.status_code == 201
    assert response.json()["scope"] == "marketing"
    check = api.get(f"{V1}/suppressions/check/", {"email": "alice@EXAMPLE.com"}).json()
    assert check == {"suppressed": True, "scope": "marketing", "reasons": ["manual"]}
    event = ConsentEvent.objects.get(contact=alice)
    assert (event.action, event.source, event.actor) == ("suppressed", "api", "api:crm")


def test_it_checks_an_unknown_address(api):
    check = api.get(f"{V1}/suppressions/check/", {"email": "nobody@example.com"}).json()
    assert check == {"suppressed": False, "scope": None, "reasons": []}


def test_it_refuses_bad_suppression_input(api):
    assert_error(
        api.post(f"{V1}/suppressions/", {"email": "x", "reason": "manual"}), 400, "invalid_email"
    )
    assert_error(
        api.post(f"{V1}/suppressions/", {"email": "a@b.co", "reason": "x"}), 400, "invalid"
    )
    assert_error(api.get(f"{V1}/suppressions/check/"), 400, "invalid")
    assert_error(api.get(f"{V1}/suppressions/check/", {"email": "nope"}), 400, "invalid_email")
    assert not Suppression.objects.exists()


# --- transactional --------------------------------------------------------------------------


def test_it_queues_a_transactional_message(api, alice, send_queued_transactional):
    contact_unsubscribe_all(contact=alice, by=Actor(source="one_click"))  # marketing only
    response = api.post(
        f"{V1}/transactional/",
        {"to": "alice@example.com", "subject": "Your receipt", "text_body": "Thanks."},
    )
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    outbox = send_queued_transactional()
    assert [m.subject for m in outbox] == ["Your receipt"]
    assert "List-Unsubscribe" not in outbox[0].extra_headers


def test_it_refuses_transactional_mail_to_a_dead_address(api):
    suppression_add(email="gone@example.com", reason="hard_bounce", by=STAFF)
    response = api.post(
        f"{V1}/transactional/", {"to": "gone@example.com", "subject": "Hi", "text_body": "x"}
    )
    assert_error(response, 422, "suppressed")
    assert not TransactionalMessage.objects.exists()


def test_it_refuses_bad_transactional_input(api):
    url = f"{V1}/transactional/"
    assert_error(
        api.post(url, {"to": "nope", "subject": "a", "text_body": "b"}), 400, "invalid_email"
    )
    assert_error(
        api.post(url, {"to": "a@b.co", "subject": "a\nBcc: x", "text_body": "b"}), 400, "invalid"
    )
    assert_error(api.post(url, {"to": "a@b.co", "subject": "a"}), 400, "invalid")
    assert not TransactionalMessage.objects.exists()


# --- campaigns ------------------------------------------------------------------------------

CAMPAIGN = {
    "name": "Spring news",
    "subject": "Hello {{ contact.attributes.first_name|default:'there' }}",
    "html_body": "<p>News</p>",
    "text_body": "News",
}


def test_it_creates_a_draft_campaign(api, topic):
    response = api.post(f"{V1}/campaigns/", {**CAMPAIGN, "topic": topic.slug})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft"
    assert body["topic"] == topic.slug
    assert body["stats"]["audience"] == 0


def test_it_schedules_a_campaign(api, topic):
    body = {**CAMPAIGN, "topic": topic.slug, "scheduled_at": "2030-01-01T09:00:00Z"}
    response = api.post(f"{V1}/campaigns/", body)
    assert response.json()["status"] == "scheduled"


def test_it_refuses_bad_campaigns(api, topic):
    url = f"{V1}/campaigns/"
    assert_error(api.post(url, {**CAMPAIGN, "topic": "nope"}), 400, "unknown_topic")
    broken = {**CAMPAIGN, "topic": topic.slug, "html_body": "{% if %}"}
    assert_error(api.post(url, broken), 400, "invalid_template")
    empty = {**CAMPAIGN, "topic": topic.slug, "html_body": "", "text_body": ""}
    assert_error(api.post(url, empty), 400, "invalid_template")
    assert_error(api.post(url, {**CAMPAIGN, "topic": topic.slug, "name": 5}), 400, "invalid")
    assert not Campaign.objects.exists()


def test_it_moves_a_campaign_through_its_life_cycle(api, subscribed_alice, topic):
    pk = api.post(f"{V1}/campaigns/", {**CAMPAIGN, "topic": topic.slug}).json()["id"]
    for action, status in (
        ("send", "sending"),
        ("pause", "paused"),
        ("resume", "sending"),
        ("cancel", "cancelled"),
    ):
        response = api.post(f"{V1}/campaigns/{pk}/{action}/")
        assert response.status_code == 202, response.content
        assert response.json()["status"] == status
    assert_error(api.post(f"{V1}/campaigns/{pk}/resume/"), 409, "invalid_state")
    got = api.get(f"{V1}/campaigns/{pk}/").json()
    assert got["status"] == "cancelled"
    assert set(got["stats"]) >= {
        "audience",
        "pending",
        "sent",
        "skipped",
        "failed",
        "bounced",
        "complained",
        "unsubscribed",
    }


def test_it_answers_404_for_an_unknown_campaign(api):
    assert_error(api.get(f"{V1}/campaigns/12345/"), 404, "not_found")
    assert_error(api.post(f"{V1}/campaigns/12345/send/"), 404, "not_found")


# --- export and erasure ---------------------------------------------------------------------


def test_it_exports_a_contact(api, alice, topic):
    api.put(sub_url(alice, topic.slug), {"status": "subscribed"})
    response = api.post(f"{V1}/contacts/{alice.pk}/export/")
    assert response.status_code == 200
    data = response.json()
    assert "alice@example.com" in json.dumps(data)
    assert len(json.dumps(data)) > 100


def test_it_erases_a_contact_then_hides_it(api, subscribed_alice, topic):
    response = api.delete(f"{V1}/contacts/{subscribed_alice.pk}/")
    assert response.status_code == 204
    assert_error(api.get(f"{V1}/contacts/{subscribed_alice.pk}/"), 404, "not_found")
    assert_error(api.delete(f"{V1}/contacts/{subscribed_alice.pk}/"), 404, "not_found")
    assert_error(api.post(f"{V1}/contacts/{subscribed_alice.pk}/export/"), 404, "not_found")
    assert api.get(f"{V1}/contacts/", {"email": "alice@example.com"}).json()["results"] == []
    erased = ConsentEvent.objects.get(contact=subscribed_alice, action="erased")
    assert (erased.source, erased.actor) == ("api", "api:crm")
    # The address comes back only through a double opt-in, and stays guarded until confirmed.
    refused = api.post(f"{V1}/contacts/", {"email": "alice@example.com"})
    assert_error(refused, 409, "erased_requires_double_opt_in")
    again = api.post(
        f"{V1}/contacts/",
        {"email": "alice@example.com", "double_opt_in": True, "topics": [topic.slug]},
    ).json()
    response = api.put(
        f"{V1}/contacts/{again['id']}/subscriptions/{topic.slug}/", {"status": "subscribed"}
    )
    assert_error(response, 409, "resubscribe_requires_confirmation")


def test_it_refuses_unknown_query_parameters(api):
    response = api.get(f"{V1}/topics/", {"colour": "red"})
    assert_error(response, 400, "invalid")
    assert "colour" in response.json()["detail"]


def test_it_refuses_a_bad_page_size_or_cursor(api):
    assert_error(api.get(f"{V1}/topics/", {"page_size": "many"}), 400, "invalid")
    assert_error(api.get(f"{V1}/topics/", {"page_size": "0"}), 400, "invalid")
    assert_error(api.get(f"{V1}/topics/", {"cursor": "garbage"}), 400, "invalid")


DEAD_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on the discard port
    }
}


@override_settings(CACHES=DEAD_REDIS, API_RATE_LIMIT=1)
def test_it_still_unsubscribes_when_redis_is_down(api, subscribed_alice, topic):
    """Rule 2: the rate limiter fails open rather than lose an opt-out."""
    for _ in range(2):
        response = api.put(sub_url(subscribed_alice, topic.slug), {"status": "unsubscribed"})
        assert response.status_code == 200, response.content
    assert Subscription.objects.get(contact=subscribed_alice).status == "unsubscribed"


def test_it_generates_a_valid_schema_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert "/api/v1/transactional/" in (tmp_path / "s.yml").read_text()


def test_it_refuses_a_bad_sender(api, topic):
    body = {**CAMPAIGN, "topic": topic.slug, "from_email": "not an address"}
    assert_error(api.post(f"{V1}/campaigns/", body), 400, "invalid")
    body["from_email"] = "News <news@example.com>"
    assert api.post(f"{V1}/campaigns/", body).status_code == 201


# --- admin ----------------------------------------------------------------------------------


def test_it_revokes_keys_from_the_admin(api, api_key, admin_client):
    changelist = "/admin/subscriptions/apikey/"
    page = admin_client.get(changelist)
    assert page.status_code == 200
    assert api_key.prefix in page.content.decode()
    assert api_key.secret not in page.content.decode()
    response = admin_client.post(
        changelist, {"action": "revoke", "_selected_action": [api_key.pk]}, follow=True
    )
    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert_error(api.get(f"{V1}/topics/"), 401, "invalid_key")


def test_it_refuses_a_frequency_the_topic_does_not_offer(api, alice, topic):
    response = api.put(sub_url(alice, topic.slug), {"status": "subscribed", "frequency": "monthly"})
    assert_error(response, 400, "invalid")
    response = api.put(sub_url(alice, topic.slug), {"status": "subscribed", "frequency": "weekly"})
    assert response.json()["frequency"] == "weekly"


def test_it_records_a_purchase_that_renews_a_soft_opt_in(api, alice, topic):
    body = {"status": "subscribed", "legal_basis": "soft_opt_in", "implied_by": "inquiry"}
    assert api.put(sub_url(alice, topic.slug), body).status_code == 200
    response = api.post(f"{V1}/contacts/{alice.pk}/signals/", {"kind": "purchase"})
    assert response.json() == {"renewed": 1}
    assert Subscription.objects.get(contact=alice).implied_by == "purchase"
    bad = api.post(f"{V1}/contacts/{alice.pk}/signals/", {"kind": "visit"})
    assert_error(bad, 400, "invalid")


def test_it_refuses_a_second_key_with_the_same_name(api_key):
    with pytest.raises(CommandError):
        call_command("create_api_key", api_key.name)
    assert ApiKey.objects.filter(name=api_key.name).count() == 1


def test_it_cannot_ask_a_dead_address_to_confirm(api, alice, topic):
    suppression_add(email=alice.email, reason="hard_bounce", by=STAFF)
    body = {"status": "subscribed", "double_opt_in": True}
    assert_error(api.put(sub_url(alice, topic.slug), body), 422, "suppressed")
    assert not Subscription.objects.filter(contact=alice).exists()
    assert not TransactionalMessage.objects.exists()


def test_it_schedules_moves_and_unschedules_a_campaign(api, topic):
    campaign = api.post(f"{V1}/campaigns/", {**CAMPAIGN, "topic": topic.slug}).json()
    url = f"{V1}/campaigns/{campaign['id']}"

    response = api.post(f"{url}/schedule/", {"scheduled_at": "2031-05-06T07:08:00Z"})
    assert response.status_code == 202, response.content
    assert (response.json()["status"], response.json()["scheduled_at"]) == (
        "scheduled",
        "2031-05-06T07:08:00Z",
    )
    moved = api.post(f"{url}/schedule/", {"scheduled_at": "2032-01-01T00:00:00Z"}).json()
    assert moved["scheduled_at"] == "2032-01-01T00:00:00Z"

    response = api.post(f"{url}/unschedule/")
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["scheduled_at"]) == ("draft", None)
    assert_error(api.post(f"{url}/unschedule/"), 409, "invalid_state")


def test_it_refuses_a_schedule_time_that_has_passed(api, topic):
    past = "2020-01-01T00:00:00Z"
    body = {**CAMPAIGN, "topic": topic.slug, "scheduled_at": past}
    assert_error(api.post(f"{V1}/campaigns/", body), 400, "invalid_schedule")
    assert not Campaign.objects.exists()
    campaign = api.post(f"{V1}/campaigns/", {**CAMPAIGN, "topic": topic.slug}).json()
    url = f"{V1}/campaigns/{campaign['id']}/schedule/"
    assert_error(api.post(url, {"scheduled_at": past}), 400, "invalid_schedule")
    assert_error(api.post(url, {}), 400, "invalid")
    assert Campaign.objects.get().status == "draft"
