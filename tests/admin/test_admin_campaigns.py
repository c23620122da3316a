from __future__ import annotations

from django.urls import reverse

from subscriptions.models.choices import CampaignStatus
from tests.sending_factories import CampaignFactory


def test_it_previews_a_campaign_as_a_chosen_contact(admin_client, topic, subscribed_alice):
    subscribed_alice.attributes = {"first_name": "Alice"}
    subscribed_alice.save()
    campaign = CampaignFactory(topic=topic)

    response = admin_client.get(
        reverse("admin:subscriptions_campaign_preview", args=[campaign.pk]),
        {"contact": "alice@example.com"},
    )

    assert response.status_code == 200
    assert "News for Alice" in response.text
    assert "List-Unsubscribe-Post" in response.text


def test_it_shows_a_template_error_in_the_preview(admin_client, topic):
    campaign = CampaignFactory(topic=topic, html_body="{% if %}")

    response = admin_client.get(reverse("admin:subscriptions_campaign_preview", args=[campaign.pk]))

    assert response.status_code == 200
    assert "HTML body is not a valid template" in response.text


def test_it_sends_a_test_to_given_addresses(admin_client, topic, subscribed_alice, outbox):
    campaign = CampaignFactory(topic=topic)

    response = admin_client.post(
        reverse("admin:subscriptions_campaign_preview", args=[campaign.pk]),
        {"addresses": "qa@example.com, boss@example.com", "contact": str(subscribed_alice.pk)},
    )

    assert response.status_code == 302
    assert [m.to for m in outbox] == [["qa@example.com"], ["boss@example.com"]]
    assert outbox[0].subject.startswith("[Test] ")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_it_pauses_and_cancels_through_admin_actions(admin_client, topic):
    campaign = CampaignFactory(topic=topic, status="sending")
    url = reverse("admin:subscriptions_campaign_changelist")

    admin_client.post(url, {"action": "pause", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    admin_client.post(url, {"action": "cancel", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.status == "cancelled"
    response = admin_client.post(
        url, {"action": "resume", "_selected_action": [campaign.pk]}, follow=True
    )
    assert "cannot become sending" in response.text


def test_it_shows_live_progress(admin_client, topic):
    campaign = CampaignFactory(topic=topic, status="sending")

    response = admin_client.get(
        reverse("admin:subscriptions_campaign_progress", args=[campaign.pk])
    )

    assert response.status_code == 200
    assert 'http-equiv="refresh"' in response.text
    assert "Skipped" in response.text
