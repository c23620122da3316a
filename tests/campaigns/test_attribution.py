"""Honest statistics: an unsubscribe through a campaign's own links names that campaign in the
ledger and counts once per person in its `stats.unsubscribed` (DESIGN, ConsentEvent; rule 8)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from subscriptions.campaigns.messages import render_marketing_message
from subscriptions.campaigns.stats import campaign_stats
from subscriptions.consent.ledger import Actor, ledger_verify, record
from subscriptions.consent.tokens import (
    UNSUBSCRIBE,
    BadToken,
    _sign,
    preferences_token,
    read_preference_link,
    read_unsubscribe_link,
    read_unsubscribe_token,
    unsubscribe_token,
)
from subscriptions.models import ConsentEvent, Delivery
from subscriptions.models.choices import LinkVia, Source
from tests.factories import ContactFactory, SubscriptionFactory
from tests.sending_factories import CampaignFactory


def subscribed(topic, **kwargs):
    return SubscriptionFactory(topic=topic, contact=ContactFactory(**kwargs)).contact


def unsubscribe_path(contact, topic, campaign=None) -> str:
    token = unsubscribe_token(contact, topic, campaign_id=campaign.pk if campaign else None)
    return reverse("unsubscribe", args=[token])


def preferences_path(contact, campaign=None) -> str:
    token = preferences_token(contact, campaign_id=campaign.pk if campaign else None)
    return reverse("preferences", args=[token])


def campaigns_of(contact) -> list:
    return list(
        ConsentEvent.objects.filter(contact=contact)
        .order_by("id")
        .values_list("action", "source", "campaign_id")
    )


# --- the links carry the campaign --------------------------------------------------------------


def test_it_puts_the_campaign_in_both_links_of_a_campaign_mail(topic, campaign):
    contact = subscribed(topic)

    message = render_marketing_message(campaign=campaign, contact=contact)

    header = message.headers["List-Unsubscribe"]
    unsubscribe_url = re.search(r"<(https?://[^>]+)>", header).group(1)
    token = urlsplit(unsubscribe_url).path.split("/unsubscribe/")[1].rstrip("/")
    link = read_unsubscribe_link(token)
    assert (link.contact, link.topic, link.campaign_id) == (contact, topic, campaign.pk)
    preferences_url = re.search(r"https?://\S+/preferences/(\S+?)/", message.text).group(1)
    assert read_preference_link(preferences_url).campaign_id == campaign.pk
    assert contact.email not in unsubscribe_url  # still opaque: signed, no address


def test_it_keeps_links_mailed_before_they_named_a_campaign_working(client, topic):
    contact = subscribed(topic)
    old = _sign({"c": contact.token_key.hex, "t": topic.slug}, UNSUBSCRIBE)

    assert read_unsubscribe_token(old) == (contact, topic)
    assert read_unsubscribe_link(old).campaign_id is None
    response = client.post(reverse("unsubscribe", args=[old]))
    assert response.status_code == 200
    assert campaigns_of(contact) == [("unsubscribed", "unsubscribe_link", None)]


@pytest.mark.parametrize("campaign_id", ["7", 0, -3, True, 1.5, [1]])
def test_it_refuses_a_link_whose_campaign_is_malformed(client, topic, campaign_id):
    contact = subscribed(topic)
    forged = _sign({"c": contact.token_key.hex, "t": topic.slug, "k": campaign_id}, UNSUBSCRIBE)

    with pytest.raises(BadToken):
        read_unsubscribe_link(forged)
    assert client.post(reverse("unsubscribe", args=[forged])).status_code == 404
    assert campaigns_of(contact) == []


# --- every way through the campaign's links records it ------------------------------------------


def test_it_records_the_campaign_of_an_unsubscribe_page_post(client, topic, campaign):
    contact = subscribed(topic)

    response = client.post(unsubscribe_path(contact, topic, campaign))

    assert response.status_code == 200
    assert campaigns_of(contact) == [("unsubscribed", "unsubscribe_link", campaign.pk)]


def test_it_records_the_campaign_of_a_one_click_post(client, topic, campaign):
    contact = subscribed(topic)

    response = client.post(
        unsubscribe_path(contact, topic, campaign), data={"List-Unsubscribe": "One-Click"}
    )

    assert response.status_code == 200
    assert campaigns_of(contact) == [("unsubscribed", "one_click", campaign.pk)]


def test_it_records_the_campaign_of_an_unsubscribe_all_from_its_preference_page(
    client, topic, campaign
):
    contact = subscribed(topic)

    response = client.post(preferences_path(contact, campaign), {"action": "unsubscribe_all"})

    assert response.status_code == 302
    events = campaigns_of(contact)
    assert events and all(source == "preference_page" for _a, source, _c in events)
    assert {c for _a, _s, c in events} == {campaign.pk}
    assert "unsubscribed_all" in {action for action, _s, _c in events}


def test_it_keeps_the_campaign_on_the_preference_link_of_its_unsubscribe_page(
    client, topic, campaign
):
    contact = subscribed(topic)

    page = client.get(unsubscribe_path(contact, topic, campaign))

    token = re.search(r"/preferences/([^/\"]+)/", page.text).group(1)
    link = read_preference_link(token)
    assert (link.campaign_id, link.via) == (campaign.pk, LinkVia.UNSUBSCRIBE_PAGE)
    client.post(reverse("preferences", args=[token]), {"action": "unsubscribe_all"})
    assert {c for _a, _s, c in campaigns_of(contact)} == {campaign.pk}


def test_it_records_no_campaign_for_a_link_mailed_outside_one(client, topic):
    contact = subscribed(topic)

    client.post(preferences_path(contact), {"action": "unsubscribe_all"})

    assert {c for _a, _s, c in campaigns_of(contact)} == {None}


# --- the ledger: attribution outside the hash, but never rewritten -------------------------------


def test_it_keeps_the_ledger_verifying_and_refuses_rewriting_the_campaign(topic, campaign):
    contact = subscribed(topic)
    other = CampaignFactory(topic=topic)
    record(
        contact=contact,
        topic=topic,
        action="unsubscribed",
        by=Actor(source=Source.ONE_CLICK, campaign_id=campaign.pk),
        old_status="subscribed",
        new_status="unsubscribed",
    )
    event = ConsentEvent.objects.get(contact=contact)
    assert event.campaign_id == campaign.pk
    assert ledger_verify() == []

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE subscriptions_consentevent SET campaign_id = %s WHERE id = %s",
            [other.pk, event.pk],
        )
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE subscriptions_consentevent SET campaign_id = NULL WHERE id = %s", [event.pk]
        )
    event.refresh_from_db()
    assert event.campaign_id == campaign.pk


def test_it_leaves_out_a_campaign_deleted_since_its_link_was_mailed(topic):
    contact = subscribed(topic)
    gone = CampaignFactory(topic=topic)
    gone_id = gone.pk
    gone.delete()

    record(
        contact=contact,
        topic=topic,
        action="unsubscribed",
        by=Actor(source=Source.ONE_CLICK, campaign_id=gone_id),
    )

    assert campaigns_of(contact) == [("unsubscribed", "one_click", None)]


# --- stats.unsubscribed counts what it names ---------------------------------------------------


def test_it_counts_each_person_who_unsubscribed_through_the_campaign_once(client, topic, campaign):
    other_campaign = CampaignFactory(topic=topic)
    page, one_click, preferences, both, esp_only, elsewhere, unrelated = (
        subscribed(topic) for _ in range(7)
    )
    for contact in (page, one_click, preferences, both, esp_only, elsewhere, unrelated):
        Delivery.objects.create(campaign=campaign, contact=contact, status="sent")
    client.post(unsubscribe_path(page, topic, campaign))
    client.post(unsubscribe_path(one_click, topic, campaign), {"List-Unsubscribe": "One-Click"})
    client.post(preferences_path(preferences, campaign), {"action": "unsubscribe_all"})
    client.post(unsubscribe_path(both, topic, campaign))
    Delivery.objects.filter(contact__in=[both, esp_only]).update(unsubscribed_at=timezone.now())
    client.post(unsubscribe_path(elsewhere, topic, other_campaign))
    client.post(unsubscribe_path(unrelated, topic))

    stats = campaign_stats(campaign)

    # page, one-click, preference page, both (link + ESP: once), ESP only
    assert stats["unsubscribed"] == 5
    assert campaign_stats(other_campaign)["unsubscribed"] == 1


def test_it_shows_the_unsubscribes_through_its_links_in_the_api(client, api, topic, campaign):
    contact = subscribed(topic)
    client.post(unsubscribe_path(contact, topic, campaign), {"List-Unsubscribe": "One-Click"})

    response = api.get(f"/api/v1/campaigns/{campaign.pk}/")

    assert response.json()["stats"]["unsubscribed"] == 1
