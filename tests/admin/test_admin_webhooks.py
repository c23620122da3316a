"""Webhook endpoints in the staff console: add (secret shown once), the log, re-enable."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from subscriptions.consent.subscriptions import subscription_unsubscribe
from subscriptions.integrations.endpoints import webhook_endpoint_create
from subscriptions.integrations.webhooks import Answer, delivery_record
from subscriptions.models import WebhookDelivery, WebhookEndpoint

URL = "http://127.0.0.1:9/hook"


@pytest.fixture
def private_networks(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


def test_staff_add_an_endpoint_and_see_its_secret_once(admin_client, private_networks):
    response = admin_client.post(
        reverse("admin:subscriptions_webhookendpoint_add"),
        {"url": URL, "events": ["subscription.changed", "contact.erased"]},
        follow=True,
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["subscription.changed", "contact.erased"]
    assert endpoint.created_by == "admin"
    assert endpoint.secret in response.content.decode()
    page = admin_client.get(
        reverse("admin:subscriptions_webhookendpoint_change", args=[endpoint.pk])
    )
    assert page.status_code == 200
    assert endpoint.secret not in page.content.decode()


def test_a_private_url_is_refused_in_the_form(admin_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    response = admin_client.post(
        reverse("admin:subscriptions_webhookendpoint_add"),
        {"url": "http://10.1.2.3/hook", "events": ["contact.erased"]},
    )
    assert response.status_code == 200
    assert "public addresses" in response.content.decode()
    assert WebhookEndpoint.objects.count() == 0


def test_the_change_page_shows_the_delivery_log(
    admin_client, private_networks, subscribed_alice, topic, actor
):
    endpoint = webhook_endpoint_create(url=URL, events=["subscription.changed"])
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=actor)
    delivery = WebhookDelivery.objects.select_related("event").get()
    delivery_record(delivery=delivery, answer=Answer(500, "The receiver answered 500."))

    body = admin_client.get(
        reverse("admin:subscriptions_webhookendpoint_change", args=[endpoint.pk])
    ).content.decode()
    assert "The receiver answered 500." in body
    assert str(delivery.event.uid) in body
    assert "Failed, will retry" in body
    listing = admin_client.get(reverse("admin:subscriptions_webhookendpoint_changelist"))
    assert "0 delivered, 1 on their way, 0 given up" in listing.content.decode()


def test_the_re_enable_action(admin_client, private_networks):
    endpoint = webhook_endpoint_create(url=URL, events=["contact.erased"])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False,
        disabled_at=timezone.now(),
        disabled_reason="3 days",
        failing_since=timezone.now(),
    )
    response = admin_client.post(
        reverse("admin:subscriptions_webhookendpoint_changelist"),
        {"action": "enable", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    assert "1 endpoint re-enabled." in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.disabled_at is None and endpoint.failing_since is None


def test_deleting_in_the_admin_stops_the_events(admin_client, private_networks):
    endpoint = webhook_endpoint_create(url=URL, events=["contact.erased"])
    response = admin_client.post(
        reverse("admin:subscriptions_webhookendpoint_delete", args=[endpoint.pk]),
        {"post": "yes"},
    )
    assert response.status_code == 302
    assert WebhookEndpoint.objects.count() == 0
