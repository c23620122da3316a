"""Outbound events are written to the outbox in the transaction of the change, only when an
active endpoint wants them; an import's ledger rows emit set-based (consent.events)."""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from subscriptions.campaigns.lifecycle import campaign_finish_if_done
from subscriptions.consent.events import outbound_event_emit, subscription_changes_emit
from subscriptions.consent.ledger import Actor, record
from subscriptions.consent.subscriptions import (
    contact_unsubscribe_all,
    subscription_pause,
    subscription_resume,
    subscription_subscribe,
    subscription_unsubscribe,
)
from subscriptions.consent.suppression import suppression_add
from subscriptions.integrations.endpoints import webhook_endpoint_create, webhook_endpoint_delete
from subscriptions.models import ConsentEvent, OutboundEvent, WebhookDelivery
from subscriptions.privacy.erasure import contact_erase
from tests.factories import ContactFactory, SubscriptionFactory
from tests.sending_factories import CampaignFactory

pytestmark = pytest.mark.usefixtures("private_networks")

IMPORT = Actor(source="import", actor="import:crm.csv")


def types() -> list[str]:
    return list(OutboundEvent.objects.order_by("id").values_list("type", flat=True))


def test_it_writes_nothing_when_no_endpoint_is_configured(subscribed_alice, topic, actor):
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=actor)
    assert OutboundEvent.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0


def test_it_writes_only_the_types_an_active_endpoint_wants(
    subscribed_alice, topic, actor, receiver
):
    webhook_endpoint_create(url=receiver.url, events=["contact.erased"])
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=actor)
    assert OutboundEvent.objects.count() == 0


def test_a_deleted_endpoint_stops_the_events_at_once(subscribed_alice, topic, actor, receiver):
    endpoint = webhook_endpoint_create(url=receiver.url, events=["subscription.changed"])
    webhook_endpoint_delete(endpoint=endpoint)
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=actor)
    assert OutboundEvent.objects.count() == 0


def test_an_unsubscribe_writes_its_event_and_one_delivery_per_endpoint(
    subscribed_alice, topic, actor, endpoint, receiver
):
    other = webhook_endpoint_create(url=receiver.url + "2", events=["subscription.changed"])
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=actor)
    event = OutboundEvent.objects.get()
    assert event.type == "subscription.changed"
    assert event.contact_id == subscribed_alice.pk
    assert event.data["source"] == "api" and event.data["old_status"] == "subscribed"
    assert set(event.deliveries.values_list("endpoint", flat=True)) == {endpoint.pk, other.pk}
    assert set(event.deliveries.values_list("status", flat=True)) == {"pending"}


def test_a_rolled_back_change_leaves_no_event(subscribed_alice, topic, actor, endpoint):
    with pytest.raises(RuntimeError), transaction.atomic():
        subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=actor)
        assert OutboundEvent.objects.count() == 1
        raise RuntimeError("the request failed after the change")
    assert OutboundEvent.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0


def test_an_unsubscribe_all_emits_each_topic_then_the_unsubscribe_all(
    subscribed_alice, topic, other_topic, actor, endpoint
):
    SubscriptionFactory(contact=subscribed_alice, topic=other_topic)
    contact_unsubscribe_all(contact=subscribed_alice, by=actor)
    assert types() == [
        "subscription.changed",
        "subscription.changed",
        "contact.unsubscribed_all",
        "suppression.added",
    ]
    everything = OutboundEvent.objects.get(type="contact.unsubscribed_all").data
    assert everything == {
        "contact_id": subscribed_alice.pk,
        "external_id": subscribed_alice.external_id,
        "email": "alice@example.com",
        "source": "api",
    }


def test_a_pause_is_not_a_status_change(subscribed_alice, topic, actor, endpoint):
    subscription_pause(
        contact=subscribed_alice, until=timezone.now() + datetime.timedelta(days=3), by=actor
    )
    subscription_resume(contact=subscribed_alice, by=actor)
    assert ConsentEvent.objects.filter(action__in=["paused", "resumed"]).count() == 2
    assert OutboundEvent.objects.count() == 0


def test_a_suppression_without_a_contact_carries_no_address(db, actor, endpoint):
    suppression_add(email="nobody@example.com", reason="manual", by=actor)
    event = OutboundEvent.objects.get()
    assert event.type == "suppression.added"
    assert event.data == {"reason": "manual", "scope": "marketing", "contact_id": None}
    assert "nobody" not in str(event.data)


def test_an_erasure_emits_no_address_and_blanks_the_contacts_queued_ones(
    subscribed_alice, topic, actor, endpoint
):
    subscribed_alice.external_id = "user-7"
    subscribed_alice.save()
    contact_erase(contact=subscribed_alice, by=actor)
    erased = OutboundEvent.objects.get(type="contact.erased")
    assert erased.data == {"contact_id": subscribed_alice.pk, "external_id": "user-7"}
    for event in OutboundEvent.objects.all():
        assert "alice@example.com" not in str(event.data)


def test_a_confirmed_resubscription_is_a_change_from_pending(alice, topic, endpoint):
    SubscriptionFactory(contact=alice, topic=topic, status="pending")
    subscription_subscribe(contact=alice, topic=topic, by=Actor(source="confirmation"))
    event = OutboundEvent.objects.get()
    assert (event.data["old_status"], event.data["new_status"]) == ("pending", "subscribed")
    assert event.data["source"] == "confirmation"


# --- set-based, for the importer ----------------------------------------------------------------


def _ledger_rows_without_events(topic, count: int) -> list[ConsentEvent]:
    """What an import chunk writes: status changes (and one that is not), before any endpoint."""
    rows = []
    for n in range(count):
        contact = ContactFactory(email=f"imported{n}@example.com", external_id=f"crm-{n}")
        rows.append(
            record(
                contact=contact,
                topic=topic,
                action="subscribed",
                by=IMPORT,
                old_status="",
                new_status="subscribed",
            )
        )
    rows.append(
        record(
            contact=rows[0].contact,
            topic=topic,
            action="frequency_changed",
            by=IMPORT,
            old_status="immediate",
            new_status="weekly",
        )
    )
    return rows


def test_it_emits_an_import_chunks_changes_in_one_statement(
    topic, endpoint, receiver, django_assert_max_num_queries
):
    webhook_endpoint_delete(endpoint=endpoint)
    rows = _ledger_rows_without_events(topic, 3)
    assert OutboundEvent.objects.count() == 0
    endpoint = webhook_endpoint_create(url=receiver.url, events=["subscription.changed"])
    other = webhook_endpoint_create(url=receiver.url + "2", events=["subscription.changed"])
    chunk = ConsentEvent.objects.filter(id__gte=rows[0].id, id__lte=rows[-1].id)

    with django_assert_max_num_queries(4):  # wanted types, endpoints, the INSERT … SELECT
        written = subscription_changes_emit(ledger_rows=chunk)

    assert written == 3
    events = list(OutboundEvent.objects.order_by("id"))
    assert [e.contact_id for e in events] == [row.contact_id for row in rows[:3]]
    assert events[1].data == {
        "contact_id": rows[1].contact_id,
        "external_id": "crm-1",
        "email": "imported1@example.com",
        "topic": "product-news",
        "old_status": None,
        "new_status": "subscribed",
        "source": "import",
        "campaign_id": None,
    }
    assert len({e.uid for e in events}) == 3
    deliveries = WebhookDelivery.objects.filter(status="pending")
    assert deliveries.count() == 6
    assert set(deliveries.values_list("endpoint", flat=True)) == {endpoint.pk, other.pk}
    assert all(d.contact_id == d.event.contact_id for d in deliveries.select_related("event"))


def test_the_set_based_emission_writes_nothing_no_one_wants(topic, db):
    rows = _ledger_rows_without_events(topic, 2)
    chunk = ConsentEvent.objects.filter(id__in=[row.id for row in rows])
    assert subscription_changes_emit(ledger_rows=chunk) == 0
    assert OutboundEvent.objects.count() == 0


def test_a_lazy_payload_is_computed_only_when_wanted(db):
    def payload() -> dict:
        raise AssertionError("computed for no one")

    assert outbound_event_emit(event_type="campaign.finished", data=payload) is None


def test_a_finished_campaign_emits_its_stats(topic, endpoint):
    campaign = CampaignFactory(topic=topic, status="sending", started_at=timezone.now())
    assert campaign_finish_if_done(campaign=campaign)
    event = OutboundEvent.objects.get()
    assert event.type == "campaign.finished" and event.contact_id is None
    assert event.data["campaign_id"] == campaign.pk
    assert event.data["stats"]["audience"] == 0 and "unsubscribed" in event.data["stats"]
    assert not campaign_finish_if_done(campaign=campaign)  # finished once, announced once
    assert OutboundEvent.objects.count() == 1
