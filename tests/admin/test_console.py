"""The console shell: brand, menus by task, the two roles, the dashboard, API keys."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Group
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from prefcenter.brand import InvalidColor, brand_palette, contrast, parse_hex
from subscriptions import dashboard
from subscriptions.api.keys import api_key_create, api_key_lookup
from subscriptions.consent.events import outbound_event_emit
from subscriptions.consent.subscriptions import subscription_subscribe, subscription_unsubscribe
from subscriptions.integrations.endpoints import webhook_endpoint_create
from subscriptions.models import ApiKey, Delivery, WebhookDelivery
from subscriptions.models.choices import WebhookDeliveryStatus
from subscriptions.roles import MARKETER, PRIVACY_OFFICER
from tests.factories import ContactFactory
from tests.sending_factories import CampaignFactory

WHITE = (255, 255, 255)
LIGHT_GREY = (243, 244, 246)
DARK_PAGE = (17, 24, 39)


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("sam", "sam@example.com", "pw-sam-1234567")


def member_of(django_user_model, role: str, username: str):
    user = django_user_model.objects.create_user(
        username, password="pw-role-1234567", is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def marketer(db, django_user_model):
    return member_of(django_user_model, MARKETER, "mia")


@pytest.fixture
def officer(db, django_user_model):
    return member_of(django_user_model, PRIVACY_OFFICER, "otto")


# --- brand ------------------------------------------------------------------------------------


@pytest.mark.parametrize("brand", ["#ffeb3b", "#1d4ed8", "#7c3aed", "#0f0", "#ffffff", "#000000"])
def test_it_derives_a_palette_whose_buttons_and_links_read_at_aa(brand):
    palette = brand_palette(brand)
    assert list(palette) == [
        "50",
        "100",
        "200",
        "300",
        "400",
        "500",
        "600",
        "700",
        "800",
        "900",
        "950",
    ]
    button = parse_hex(palette["600"])
    assert contrast(button, WHITE) >= 4.5
    assert contrast(button, LIGHT_GREY) >= 4.5
    assert contrast(parse_hex(palette["500"]), DARK_PAGE) >= 4.5


def test_it_keeps_a_dark_brand_colour_as_it_is():
    assert brand_palette("#1e3a8a")["600"] == "#1e3a8a"


@pytest.mark.parametrize("bad", ["blue", "#12345", "#gggggg", ""])
def test_it_refuses_a_brand_colour_that_is_not_hex(bad):
    with pytest.raises(InvalidColor):
        brand_palette(bad)


@override_settings(ORGANIZATION_NAME="Example Inc")
def test_it_brands_the_login_page_and_never_says_django(client, db):
    page = client.get(reverse("admin:login")).content.decode()
    assert "Example Inc" in page
    assert "Django" not in page


def test_it_brands_the_password_and_logout_pages(client, staff):
    client.force_login(staff)
    password = client.get(reverse("admin:password_change")).content.decode()
    logout = client.post(reverse("admin:logout")).content.decode()
    for page in (password, logout):
        assert "Django administration" not in page
        assert "Django site admin" not in page


# --- menus and roles --------------------------------------------------------------------------


def sidebar_links(client) -> str:
    return client.get(reverse("admin:index")).content.decode()


def test_the_sidebar_groups_pages_by_task_in_marketer_words(client, staff):
    client.force_login(staff)
    page = sidebar_links(client)
    for heading in ("Campaigns", "Audience", "Consent &amp; privacy", "Settings"):
        assert heading in page
    for item in ("Consent history", "Privacy requests", "Staff users", "Roles", "API keys"):
        assert item in page
    assert "Consent events" not in page
    assert "Data subjects" not in page


def test_a_marketer_sees_campaigns_but_no_privacy_desk(client, marketer):
    client.force_login(marketer)
    page = sidebar_links(client)
    assert reverse("admin:subscriptions_campaign_changelist") in page
    assert reverse("admin:subscriptions_datasubject_changelist") not in page
    assert reverse("admin:subscriptions_consentevent_changelist") not in page
    assert reverse("admin:subscriptions_apikey_changelist") not in page


def test_a_marketer_cannot_open_export_and_erasure_by_url(client, marketer, alice):
    client.force_login(marketer)
    desk = client.get(reverse("admin:subscriptions_datasubject_changelist"))
    erase = client.post(
        reverse("admin:subscriptions_datasubject_changelist"),
        {"action": "erase_data", "_selected_action": [alice.pk], "confirm": "yes"},
    )
    assert desk.status_code == 403
    assert erase.status_code == 403
    alice.refresh_from_db()
    assert alice.erased_at is None


def test_a_privacy_officer_sees_the_privacy_desk_and_not_campaigns(client, officer):
    client.force_login(officer)
    page = sidebar_links(client)
    assert reverse("admin:subscriptions_datasubject_changelist") in page
    assert reverse("admin:subscriptions_consentevent_changelist") in page
    assert reverse("admin:subscriptions_campaign_changelist") not in page


def test_the_roles_carry_their_permissions(db):
    marketer = set(Group.objects.get(name=MARKETER).permissions.values_list("codename", flat=True))
    officer = set(
        Group.objects.get(name=PRIVACY_OFFICER).permissions.values_list("codename", flat=True)
    )
    assert {"add_campaign", "change_campaign", "view_topic", "view_contact"} <= marketer
    assert not {"view_datasubject", "change_datasubject", "change_contact"} & marketer
    assert {
        "view_datasubject",
        "change_datasubject",
        "view_consentevent",
        "add_suppression",
    } <= officer
    assert "add_campaign" not in officer


# --- dashboard --------------------------------------------------------------------------------


@pytest.fixture
def sent_campaign(topic):
    campaign = CampaignFactory(
        topic=topic, name="Spring sale", status="sent", started_at=timezone.now()
    )
    now = timezone.now()
    for n in range(4):
        Delivery.objects.create(
            campaign=campaign,
            contact=ContactFactory(),
            status="sent",
            sent_at=now,
            delivered_at=now,
            opened_at=now if n < 2 else None,
            complained_at=now if n == 0 else None,
        )
    return campaign


def test_the_dashboard_shows_recent_campaigns_with_their_rates(client, staff, sent_campaign):
    client.force_login(staff)
    page = client.get(reverse("admin:index")).content.decode()
    assert "Spring sale" in page
    assert "100.0 %" in page  # delivered 4 of 4
    assert "50.0 %" in page  # opened 2 of 4
    assert "25.0 %" in page  # complained 1 of 4
    assert "at or above Gmail" in page  # 25 % is far above the 0.3 % limit


def test_the_dashboard_counts_gains_and_losses_per_topic_from_the_ledger(
    client, staff, topic, other_topic, actor
):
    joiners = ContactFactory.create_batch(3)
    for contact in joiners:
        subscription_subscribe(contact=contact, topic=topic, by=actor)
    subscription_unsubscribe(contact=joiners[0], topic=topic, by=actor)
    subscription_subscribe(contact=joiners[1], topic=other_topic, by=actor)

    changes = {c.topic: (c.gained, c.lost) for c in dashboard.audience_changes()}

    assert changes == {"Product news": (3, 1), "Weekly digest": (1, 0)}
    client.force_login(staff)
    assert "Subscribers gained and lost" in client.get(reverse("admin:index")).content.decode()


def test_the_dashboard_flags_claims_older_than_a_minute(client, staff, topic):
    campaign = CampaignFactory(topic=topic, name="Stuck one", status="sending")
    Delivery.objects.create(
        campaign=campaign,
        contact=ContactFactory(),
        status="claimed",
        claimed_at=timezone.now() - datetime.timedelta(minutes=5),
    )
    Delivery.objects.create(
        campaign=campaign, contact=ContactFactory(), status="claimed", claimed_at=timezone.now()
    )
    client.force_login(staff)
    page = client.get(reverse("admin:index")).content.decode()
    assert "Needs attention" in page
    assert "1 message claimed for sending" in page


def test_the_dashboard_counts_webhook_deliveries_that_keep_failing(client, staff, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    client.force_login(staff)
    webhook_endpoint_create(url="http://127.0.0.1:9/hook", events=["contact.erased"])
    for contact_id in (1, 2, 3):
        outbound_event_emit(event_type="contact.erased", data={}, contact_id=contact_id)
    assert "0 failed webhook deliveries" in client.get(reverse("admin:index")).content.decode()

    WebhookDelivery.objects.update(status=WebhookDeliveryStatus.FAILED, attempts=2)
    page = client.get(reverse("admin:index")).content.decode()

    assert "3 failed webhook deliveries" in page


# --- API keys ---------------------------------------------------------------------------------


def test_it_creates_a_key_and_shows_the_secret_only_once(client, staff):
    client.force_login(staff)
    answer = client.post(
        reverse("admin:subscriptions_apikey_add"), {"name": "crm-sync", "scopes": ["read", "send"]}
    )
    key = ApiKey.objects.get(name="crm-sync")
    secret = answer.context["secret"]
    assert secret in answer.content.decode()
    assert "no-store" in answer["Cache-Control"]
    assert api_key_lookup(secret) == key
    assert key.scopes == ["read", "send"]
    later = [
        client.get(reverse("admin:subscriptions_apikey_changelist")),
        client.get(reverse("admin:subscriptions_apikey_change", args=[key.pk])),
    ]
    for page in later:
        assert secret not in page.content.decode()
        assert key.prefix in page.content.decode()


def test_it_refuses_a_key_without_scopes_or_with_a_taken_name(client, staff):
    api_key_create(name="crm-sync")
    client.force_login(staff)
    answer = client.post(reverse("admin:subscriptions_apikey_add"), {"name": "crm-sync"})
    page = answer.content.decode()
    assert answer.status_code == 200
    assert "exists already" in page
    assert "Choose at least one scope" in page
    assert ApiKey.objects.count() == 1


def test_it_revokes_a_key_on_post_only_recording_who(client, staff):
    key, _secret = api_key_create(name="crm-sync")
    client.force_login(staff)
    url = reverse("admin:subscriptions_apikey_revoke", args=[key.pk])

    client.get(url)
    key.refresh_from_db()
    assert key.revoked_at is None

    client.post(url)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert key.revoked_by == staff


def test_a_marketer_can_neither_create_nor_revoke_keys(client, marketer):
    key, _secret = api_key_create(name="crm-sync")
    client.force_login(marketer)
    create = client.post(
        reverse("admin:subscriptions_apikey_add"), {"name": "x", "scopes": ["read"]}
    )
    revoke = client.post(reverse("admin:subscriptions_apikey_revoke", args=[key.pk]))
    assert (create.status_code, revoke.status_code) == (403, 403)
    key.refresh_from_db()
    assert key.revoked_at is None
    assert ApiKey.objects.count() == 1
