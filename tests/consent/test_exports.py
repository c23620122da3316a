"""Exports of a topic's subscribers: what each row says, who is never in it, formula cells, and
a long export streamed in pieces."""

from __future__ import annotations

import csv
import datetime
import io
import logging

import pytest
from django.utils import timezone

from subscriptions.addresses import address_hash, address_key
from subscriptions.consent.exports import (
    EXPORT_CHUNK_ROWS,
    EXPORT_COLUMNS,
    segment_subscriptions,
    subscribers_export,
    topic_subscriptions,
)
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import subscription_subscribe, subscription_unsubscribe
from subscriptions.models import Contact, Subscription
from subscriptions.privacy.erasure import contact_erase
from tests.factories import ContactFactory, SubscriptionFactory

FORM = Actor(source="subscribe_form")
IMPORT = Actor(source="import", actor="import:crm")
STAFF = Actor(source="admin", actor="staff")


def export(subscriptions, who: str = "staff") -> list[dict]:
    text = "".join(subscribers_export(subscriptions=subscriptions, exported_by=who, what="test"))
    return list(csv.DictReader(io.StringIO(text)))


def test_it_exports_each_subscriber_with_legal_basis_consent_date_and_source(db, topic):
    ann = ContactFactory(email="ann@example.com", external_id="u-1", locale="da")
    bob = ContactFactory(email="bob@example.com")
    subscription_subscribe(contact=ann, topic=topic, by=FORM)
    subscription_subscribe(contact=bob, topic=topic, by=IMPORT, legal_basis="soft_opt_in")
    ann_consent = Subscription.objects.get(contact=ann).consented_at

    rows = export(topic_subscriptions(topic))

    assert list(rows[0]) == list(EXPORT_COLUMNS)
    by_email = {row["email"]: row for row in rows}
    assert by_email["ann@example.com"] == {
        "email": "ann@example.com",
        "external_id": "u-1",
        "locale": "da",
        "status": "subscribed",
        "legal_basis": "consent",
        "consented_at": ann_consent.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
        "source": "subscribe_form",
        "frequency": "immediate",
    }
    assert by_email["bob@example.com"]["legal_basis"] == "soft_opt_in"
    assert by_email["bob@example.com"]["source"] == "import"


def test_it_leaves_out_who_unsubscribed_unless_every_standing_is_asked_for(db, topic):
    ann, bob = ContactFactory(email="ann@example.com"), ContactFactory(email="bob@example.com")
    subscription_subscribe(contact=ann, topic=topic, by=FORM)
    subscription_subscribe(contact=bob, topic=topic, by=FORM)
    subscription_unsubscribe(contact=bob, topic=topic, by=Actor(source="one_click"))

    assert [row["email"] for row in export(topic_subscriptions(topic))] == ["ann@example.com"]
    everyone = {row["email"]: row for row in export(topic_subscriptions(topic, status="all"))}
    assert everyone["bob@example.com"]["status"] == "unsubscribed"
    assert everyone["bob@example.com"]["source"] == "one_click"


def test_it_only_exports_the_topic_asked_for(db, topic, other_topic):
    SubscriptionFactory(contact=ContactFactory(email="ann@example.com"), topic=topic)
    SubscriptionFactory(contact=ContactFactory(email="bob@example.com"), topic=other_topic)

    assert [row["email"] for row in export(topic_subscriptions(topic))] == ["ann@example.com"]


def test_it_never_exports_an_erased_contact(db, topic):
    ann, bob = ContactFactory(email="ann@example.com"), ContactFactory(email="bob@example.com")
    subscription_subscribe(contact=ann, topic=topic, by=FORM)
    subscription_subscribe(contact=bob, topic=topic, by=FORM)
    contact_erase(contact=bob, by=STAFF)
    # An erased row whose subscription survived (as a pre-erasure bug could leave one).
    ghost = ContactFactory(email="ghost@example.com", erased_at=timezone.now())
    SubscriptionFactory(contact=ghost, topic=topic)

    rows = export(topic_subscriptions(topic, status="all"))

    assert [row["email"] for row in rows] == ["ann@example.com"]


def test_it_never_exports_a_contact_merged_into_another_spelling(db, topic):
    winner = ContactFactory(email="ann@example.com")
    merged = ContactFactory(email="ANN@example.com", email_key=None, merged_into=winner)
    SubscriptionFactory(contact=winner, topic=topic)
    SubscriptionFactory(contact=merged, topic=topic)

    assert [row["email"] for row in export(topic_subscriptions(topic))] == ["ann@example.com"]


def test_it_neutralises_cells_a_spreadsheet_would_run_as_formulas(db, topic):
    # An address may itself start with = + or - (each is a valid first character of a mailbox).
    for n, start in enumerate("=+-@"):
        email = f"{start}cmd{n}@example.com" if start != "@" else f"cmd{n}@example.com"
        SubscriptionFactory(
            contact=ContactFactory(email=email, external_id=f'{start}HYPERLINK("x")'),
            topic=topic,
        )

    rows = export(topic_subscriptions(topic))

    assert sorted(row["email"] for row in rows) == [
        "'+cmd1@example.com",
        "'-cmd2@example.com",
        "'=cmd0@example.com",
        "cmd3@example.com",
    ]
    assert sorted(row["external_id"] for row in rows) == [
        """'+HYPERLINK("x")""",
        """'-HYPERLINK("x")""",
        """'=HYPERLINK("x")""",
        """'@HYPERLINK("x")""",
    ]


def test_it_narrows_to_a_segment_of_contacts(db, topic):
    for name in ("ann", "bob", "cy"):
        SubscriptionFactory(
            contact=ContactFactory(
                email=f"{name}@example.com", locale="da" if name != "bob" else "en"
            ),
            topic=topic,
        )
    segment = Contact.objects.filter(locale="da")

    rows = export(segment_subscriptions(segment, topic=topic))

    assert sorted(row["email"] for row in rows) == ["ann@example.com", "cy@example.com"]


def test_it_refuses_an_unknown_standing(db, topic):
    with pytest.raises(ValueError, match="subscribed"):
        topic_subscriptions(topic, status="everyone")


def bulk_subscribers(topic, n: int) -> None:
    """`n` subscribers created set-wise (factories would take minutes)."""
    contacts = Contact.objects.bulk_create(
        (
            Contact(
                email=f"bulk{i}@example.com",
                email_key=address_key(f"bulk{i}@example.com"),
                address_hash=address_hash(f"bulk{i}@example.com"),
            )
            for i in range(n)
        ),
        batch_size=5000,
    )
    Subscription.objects.bulk_create(
        (Subscription(contact=c, topic=topic, status="subscribed") for c in contacts),
        batch_size=5000,
    )


def test_it_streams_twenty_thousand_subscribers_in_pieces(db, topic):
    bulk_subscribers(topic, 20_000)

    pieces = subscribers_export(
        subscriptions=topic_subscriptions(topic), exported_by="staff", what="test"
    )
    first = next(pieces)
    rest = list(pieces)

    # The first piece is ready before the rest is read: no piece holds more than one chunk.
    assert first.count("\n") == EXPORT_CHUNK_ROWS + 1  # the header and the first chunk
    assert len(rest) == 20_000 // EXPORT_CHUNK_ROWS
    assert all(piece.count("\n") <= EXPORT_CHUNK_ROWS for piece in rest)
    emails = [row["email"] for row in csv.DictReader(io.StringIO(first + "".join(rest)))]
    assert len(emails) == len(set(emails)) == 20_000


def test_it_logs_who_exported_what_and_how_many_rows(db, topic, caplog):
    SubscriptionFactory(contact=ContactFactory(email="ann@example.com"), topic=topic)

    with caplog.at_level(logging.INFO, logger="subscriptions.consent.exports"):
        export(topic_subscriptions(topic), who="maria")

    assert "maria exports subscribers (test)" in caplog.text
    assert "export finished: maria exported 1 subscribers (test)" in caplog.text
