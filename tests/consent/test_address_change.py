from __future__ import annotations

import pytest

from subscriptions.addresses import InvalidAddress, address_hash
from subscriptions.consent.address_change import AddressInUse, contact_change_email
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import contact_unsubscribe_all
from subscriptions.consent.suppression import suppression_add
from subscriptions.models import ConsentEvent, Contact, Subscription, Suppression
from tests.factories import ContactFactory

# Staff adding a suppression by hand (source `admin`).
STAFF = Actor(source="admin")


def reasons(email):
    return set(
        Suppression.objects.filter(address_hash=address_hash(email)).values_list(
            "reason", flat=True
        )
    )


def test_it_carries_opt_outs_to_the_new_address_and_keeps_the_old_suppressed(subscribed_alice):
    contact_unsubscribe_all(contact=subscribed_alice, by=Actor(source="preference_page"))
    suppression_add(email="alice@example.com", reason="hard_bounce", by=STAFF)
    changed = contact_change_email(
        contact=subscribed_alice,
        new_email="Alice@New.Example",
        by=Actor(source="api", actor="api:crm"),
    )
    assert changed
    alice = Contact.objects.get(pk=subscribed_alice.pk)
    assert (alice.email, alice.address_hash) == (
        "Alice@new.example",
        address_hash("alice@new.example"),
    )
    assert reasons("alice@new.example") == {"unsubscribed_all"}  # a bounce is the old mailbox's
    assert reasons("alice@example.com") == {"unsubscribed_all", "hard_bounce"}
    assert Subscription.objects.get(contact=alice).status == "unsubscribed"
    assert not Contact.objects.marketable(Subscription.objects.get(contact=alice).topic).exists()
    event = ConsentEvent.objects.filter(action="address_changed").get()
    assert (event.source, event.actor) == ("api", "api:crm")
    assert "alice@example.com -> Alice@new.example" in event.evidence


def test_it_changes_nothing_for_the_same_address(alice):
    assert not contact_change_email(
        contact=alice, new_email="alice@EXAMPLE.com", by=Actor(source="api")
    )
    assert ConsentEvent.objects.count() == 0


def test_it_refuses_an_address_of_another_contact_or_garbage(alice):
    ContactFactory(email="bob@example.com")
    with pytest.raises(AddressInUse):
        contact_change_email(contact=alice, new_email="BOB@example.com", by=Actor(source="api"))
    with pytest.raises(InvalidAddress):
        contact_change_email(contact=alice, new_email="not an address", by=Actor(source="api"))
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"
    assert ConsentEvent.objects.count() == 0
