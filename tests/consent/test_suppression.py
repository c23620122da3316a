"""One suppression_add, one ledger rule: every road that suppresses an address writes exactly one
ledger row for a contact that has it (none for an address nobody has), and never a second one
for the same state."""

from __future__ import annotations

from pathlib import Path

import pytest

from subscriptions.addresses import address_hash
from subscriptions.consent.address_change import contact_change_email
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import contact_unsubscribe_all
from subscriptions.consent.suppression import suppression_add
from subscriptions.feedback.reports import Feedback, feedback_record
from subscriptions.models import ConsentEvent, Suppression
from subscriptions.models.choices import (
    ALL_MAIL_REASONS,
    FeedbackKind,
    SuppressionReason,
    suppression_default_scope,
)
from subscriptions.privacy.erasure import contact_erase
from tests.factories import ContactFactory

STAFF = Actor(source="admin")
SUBSCRIPTIONS = Path(__file__).resolve().parents[2] / "subscriptions"


def _manual(contact, n):
    suppression_add(email=contact.email, reason="manual", scope=None, by=STAFF)


def _api(contact, n, api):
    body = {"email": contact.email, "reason": "manual"}
    assert api.post("/api/v1/suppressions/", body).status_code == 201


def _hard_bounce(contact, n):
    feedback_record(
        feedback=Feedback(
            esp="Postmark",
            kind=FeedbackKind.HARD_BOUNCE,
            recipient=contact.email,
            event_id=f"bounce-{n}",
        )
    )


def _unsubscribe_all(contact, n):
    contact_unsubscribe_all(contact=contact, by=Actor(source="preference_page"))


# road → (the ledger action it writes, the reason it suppresses with)
ROADS = {
    "staff": (_manual, "suppressed", "manual"),
    "api": (_api, "suppressed", "manual"),
    "esp_hard_bounce": (_hard_bounce, "suppressed", "hard_bounce"),
    "unsubscribe_all": (_unsubscribe_all, "unsubscribed_all", "unsubscribed_all"),
}


@pytest.mark.parametrize("road", sorted(ROADS))
def test_each_road_writes_one_ledger_row_and_never_a_second(road, subscribed_alice, api):
    act, action, reason = ROADS[road]
    for n in range(2):
        if road == "api":
            act(subscribed_alice, n, api)
        else:
            act(subscribed_alice, n)
    rows = ConsentEvent.objects.filter(contact=subscribed_alice, topic=None)
    assert list(rows.values_list("action", "old_status", "new_status")) == [(action, "", reason)]
    assert Suppression.objects.filter(reason=reason).count() == 1


@pytest.mark.parametrize("road", ["staff", "api", "esp_hard_bounce"])
def test_no_road_writes_a_row_for_an_address_nobody_has(road, db, api):
    act, _action, _reason = ROADS[road]
    stranger = ContactFactory.build(email="nobody@example.com")
    if road == "api":
        act(stranger, 0, api)
    else:
        act(stranger, 0)
    assert Suppression.objects.filter(address_hash=address_hash(stranger.email)).exists()
    assert not ConsentEvent.objects.exists()


def test_erasure_records_its_suppression_once(subscribed_alice):
    contact_erase(contact=subscribed_alice, by=STAFF)
    rows = ConsentEvent.objects.filter(contact=subscribed_alice, action="suppressed")
    assert list(rows.values_list("old_status", "new_status")) == [("", "erased")]


def test_an_address_change_carries_suppressions_without_a_second_row(subscribed_alice):
    contact_unsubscribe_all(contact=subscribed_alice, by=STAFF)
    contact_change_email(contact=subscribed_alice, new_email="alice@new.example", by=STAFF)
    assert Suppression.objects.filter(address_hash=address_hash("alice@new.example")).exists()
    actions = ConsentEvent.objects.filter(contact=subscribed_alice, topic=None)
    assert sorted(actions.values_list("action", flat=True)) == [
        "address_changed",
        "unsubscribed_all",
    ]


def test_a_wider_scope_is_one_more_row_naming_the_old_scope(alice):
    suppression_add(email=alice.email, reason="manual", scope="marketing", by=STAFF)
    suppression, created = suppression_add(
        email=alice.email, reason="manual", scope="all", by=STAFF
    )
    assert (suppression.scope, created) == ("all", False)
    assert suppression_add(email=alice.email, reason="manual", scope="marketing", by=STAFF) == (
        suppression,
        False,
    )
    rows = ConsentEvent.objects.filter(contact=alice).order_by("id")
    assert list(rows.values_list("old_status", "new_status")) == [
        ("", "manual"),
        ("marketing", "manual"),
    ]


def test_a_reason_already_in_force_under_an_older_form_changes_nothing(alice):
    Suppression.objects.create(
        address_hash="0" * 64, reason="complaint", scope="marketing", hash_version=1
    )
    alice.alias_hashes.create(address_hash="0" * 64, version=1)
    _suppression, created = suppression_add(hashed=alice.address_hash, reason="complaint", by=STAFF)
    assert not created
    assert Suppression.objects.count() == 1
    assert not ConsentEvent.objects.exists()


def test_the_scope_comes_from_the_reason_in_one_place(alice):
    for reason in SuppressionReason.values:
        suppression, _created = suppression_add(email=alice.email, reason=reason, by=STAFF)
        expected = "all" if reason in ALL_MAIL_REASONS else "marketing"
        assert suppression.scope == suppression_default_scope(reason) == expected
    assert set(ALL_MAIL_REASONS) == {"hard_bounce", "invalid", "soft_bounce_limit"}


def test_nothing_else_creates_a_suppression_row():
    writers = {
        path.relative_to(SUBSCRIPTIONS).as_posix()
        for path in SUBSCRIPTIONS.rglob("*.py")
        if "migrations" not in path.parts
        and "Suppression.objects.create(" in path.read_text(encoding="utf-8")
    }
    assert writers == {"consent/suppression.py"}
