"""Issue 9, road 11: every API key could do everything, with any From address.

Keys now carry DESIGN's scopes (`read` every GET; `write` contacts, topics, subscriptions,
suppressions...; `send` campaigns and transactional; `privacy` export and erasure; `sms`), a
call outside them answers 403 `forbidden_scope` and changes nothing; a campaign's From must be
in ALLOWED_FROM_EMAILS.
"""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import AddField
from django.urls import reverse

from subscriptions.api.keys import api_key_create
from subscriptions.models import ApiKey, Campaign, CampaignTestSend, Contact, TransactionalMessage
from subscriptions.models.choices import ApiScope
from tests.sending_factories import CampaignFactory

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
CAMPAIGN = {"name": "N", "subject": "S", "text_body": "Hi", "html_body": ""}


@pytest.fixture
def client_with(anonymous_api):
    """A JSON client (tests.support.api) holding a new key with just `scopes`."""

    def make(*scopes: str):
        _key, secret = api_key_create(name="-".join(scopes) or "none", scopes=list(scopes))
        return type(anonymous_api)(secret)

    return make


def assert_forbidden(response, scope: str) -> None:
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["error"] == "forbidden_scope"
    assert scope in body["detail"]


def calls(alice, topic, campaign) -> list[tuple[str, str, str, dict | None]]:
    """(scope needed, method, path, body) for one call of each kind."""
    return [
        ("write", "post", f"{V1}/contacts/", {"email": "new@example.com"}),
        ("write", "post", f"{V1}/topics/", {"slug": "s", "name": "S"}),
        (
            "write",
            "put",
            f"{V1}/contacts/{alice.pk}/subscriptions/{topic.slug}/",
            {"status": "unsubscribed"},
        ),
        ("write", "post", f"{V1}/contacts/{alice.pk}/unsubscribe-all/", {}),
        ("write", "post", f"{V1}/suppressions/", {"email": "x@example.com", "reason": "manual"}),
        ("send", "post", f"{V1}/campaigns/", {**CAMPAIGN, "topic": topic.slug}),
        ("send", "post", f"{V1}/campaigns/{campaign.pk}/send/", None),
        ("send", "post", f"{V1}/campaigns/{campaign.pk}/test/", {"to": ["qa@example.com"]}),
        (
            "send",
            "post",
            f"{V1}/transactional/",
            {"to": "x@example.com", "subject": "s", "text_body": "t"},
        ),
        ("privacy", "post", f"{V1}/contacts/{alice.pk}/export/", None),
        ("privacy", "delete", f"{V1}/contacts/{alice.pk}/", None),
    ]


def snapshot(alice) -> tuple:
    alice.refresh_from_db()
    return (
        Contact.objects.count(),
        alice.erased_at,
        list(alice.subscriptions.values_list("status", flat=True)),
        Campaign.objects.values_list("pk", "status").order_by("pk").first(),
        CampaignTestSend.objects.count(),
        TransactionalMessage.objects.count(),
    )


@pytest.mark.parametrize("held", ["read", "write", "send", "privacy", "sms"])
def test_a_key_outside_its_scopes_is_refused_and_changes_nothing(
    held, client_with, subscribed_alice, topic, outbox
):
    campaign = CampaignFactory(topic=topic)
    api = client_with(held)
    before = snapshot(subscribed_alice)

    for needed, method, path, body in calls(subscribed_alice, topic, campaign):
        if needed == held:
            continue
        response = getattr(api, method)(path, body) if body is not None else None
        if response is None:
            response = getattr(api, method)(path)
        assert_forbidden(response, needed)

    assert snapshot(subscribed_alice) == before
    assert outbox == []


@pytest.mark.parametrize("held", ["write", "send", "privacy", "sms"])
def test_every_get_needs_the_read_scope(held, client_with, subscribed_alice, topic):
    campaign = CampaignFactory(topic=topic)
    api = client_with(held)

    for path in (
        f"{V1}/topics/",
        f"{V1}/contacts/",
        f"{V1}/contacts/{subscribed_alice.pk}/",
        f"{V1}/contacts/{subscribed_alice.pk}/consent-events/",
        f"{V1}/suppressions/check/?email=a@example.com",
        f"{V1}/campaigns/",
        f"{V1}/campaigns/{campaign.pk}/",
    ):
        assert_forbidden(api.get(path), "read")


def test_a_read_key_reads(client_with, subscribed_alice, topic):
    api = client_with("read")

    assert api.get(f"{V1}/contacts/{subscribed_alice.pk}/").status_code == 200
    assert api.get(f"{V1}/topics/").status_code == 200


def test_each_scope_opens_its_own_calls(client_with, subscribed_alice, topic, outbox):
    campaign = CampaignFactory(topic=topic)

    assert (
        client_with("write").post(f"{V1}/contacts/", {"email": "n@example.com"}).status_code == 201
    )
    send = client_with("send")
    test = send.post(f"{V1}/campaigns/{campaign.pk}/test/", {"to": ["qa@example.com"]})
    assert test.status_code == 202
    privacy = client_with("privacy")
    assert privacy.post(f"{V1}/contacts/{subscribed_alice.pk}/export/").status_code == 200
    assert privacy.delete(f"{V1}/contacts/{subscribed_alice.pk}/").status_code == 204


def test_a_key_without_any_scope_can_do_nothing(anonymous_api, subscribed_alice):
    key, secret = api_key_create(name="legacy")
    ApiKey.objects.filter(pk=key.pk).update(scopes=[])

    assert_forbidden(type(anonymous_api)(secret).get(f"{V1}/topics/"), "read")


def test_it_creates_a_key_with_the_scopes_asked_for(capsys):
    call_command("create_api_key", "reader", "--scopes", "read, send")

    secret = capsys.readouterr().out.strip().splitlines()[-1]
    key = ApiKey.objects.get(name="reader")
    assert key.scopes == ["read", "send"]
    assert secret.startswith("pc_") and key.prefix == secret[:10]


def test_a_new_key_gets_every_scope_by_default(capsys):
    call_command("create_api_key", "everything")

    assert ApiKey.objects.get(name="everything").scopes == list(ApiScope.values)


@pytest.mark.parametrize("scopes", ["read,admin", "", ",", "READ,superuser"])
def test_an_unknown_scope_is_a_clear_error(scopes, capsys):
    with pytest.raises(CommandError, match="scope"):
        call_command("create_api_key", "bad", "--scopes", scopes)

    assert capsys.readouterr().out == ""
    assert not ApiKey.objects.exists()


def test_the_admin_shows_a_keys_scopes(admin_client):
    api_key_create(name="reader", scopes=["read"])

    response = admin_client.get(reverse("admin:subscriptions_apikey_changelist"))

    assert response.status_code == 200
    assert ">read<" in response.text


# --- allowed From -----------------------------------------------------------------------------


def test_a_campaign_from_an_address_not_allowed_is_refused(api, topic):
    for sender in ("ceo@example.com", "Support <security@bank.example>", "news@example.com.evil"):
        body = {**CAMPAIGN, "topic": topic.slug, "from_email": sender}

        response = api.post(f"{V1}/campaigns/", body)

        assert response.status_code == 400, sender
        assert response.json()["error"] == "from_not_allowed"
    assert not Campaign.objects.exists()


def test_the_configured_senders_and_allowed_domains_pass(api, topic, settings):
    default = {**CAMPAIGN, "topic": topic.slug, "from_email": "Example News <news@example.com>"}
    assert api.post(f"{V1}/campaigns/", default).status_code == 201
    assert api.post(f"{V1}/campaigns/", {**CAMPAIGN, "topic": topic.slug}).status_code == 201

    settings.ALLOWED_FROM_EMAILS = ["@promo.example.com", "ceo@example.com"]
    for sender in ("Deals <deals@promo.example.com>", "CEO@example.com"):
        body = {**CAMPAIGN, "topic": topic.slug, "from_email": sender}
        assert api.post(f"{V1}/campaigns/", body).status_code == 201, sender
    body = {**CAMPAIGN, "topic": topic.slug, "from_email": "x@sub.promo.example.com"}
    assert api.post(f"{V1}/campaigns/", body).json()["error"] == "from_not_allowed"


def test_the_admin_form_refuses_a_from_not_allowed(admin_client, topic):
    response = admin_client.post(
        reverse("admin:subscriptions_campaign_add"),
        {
            "name": "A",
            "topic": topic.pk,
            "subject": "Hi",
            "text_body": "ok",
            "from_email": "ceo@example.com",
        },
    )

    assert response.status_code == 200
    assert "is not allowed" in response.text
    assert not Campaign.objects.exists()


def test_a_campaign_whose_from_is_no_longer_allowed_does_not_start(api, topic, settings):
    campaign = CampaignFactory(topic=topic, from_email="old@example.com")

    response = api.post(f"{V1}/campaigns/{campaign.pk}/send/")

    assert response.status_code == 400
    assert response.json()["error"] == "from_not_allowed"
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_the_migration_gives_existing_keys_every_scope():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    migration = loader.get_migration("subscriptions", "0012_api_scopes_test_sends")
    (added,) = [
        op
        for op in migration.operations
        if isinstance(op, AddField) and (op.model_name, op.name) == ("apikey", "scopes")
    ]

    # AddField writes its default into every existing row.
    assert added.field.default() == ["read", "write", "send", "privacy", "sms"]
