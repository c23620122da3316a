"""The marketability rule (DESIGN rule 1) is one table: marketable() and the skip reasons agree."""

from __future__ import annotations

import datetime

import pytest
from django.db.models import Q
from django.utils import timezone

from subscriptions.addresses import address_hash
from subscriptions.campaigns.audience import campaign_build_audience
from subscriptions.campaigns.claims import blocked_contacts, claim_batch
from subscriptions.models import Contact, ContactAddressHash, Delivery, Suppression, querysets
from subscriptions.models.choices import DeliveryStatus, SkipReason
from subscriptions.models.querysets import Blocker, birth_date_cutoff
from tests.factories import ContactFactory, SubscriptionFactory
from tests.sending_factories import subscribers


def reasons(topic) -> dict[str, str]:
    """Every contact's email and the reason it is blocked on `topic` ("" when marketable)."""
    return dict(Contact.objects.with_block_reason(topic).values_list("email", "block_reason"))


def marketable(topic) -> set[str]:
    return set(Contact.objects.marketable(topic).values_list("email", flat=True))


def suppress(contact, address: str | None = None) -> None:
    Suppression.objects.create(
        address_hash=address_hash(address or contact.email), reason="complaint", scope="marketing"
    )


@pytest.fixture
def blocked_one_way_each(topic, other_topic):
    """One contact per blocker of the table, each blocked by that blocker alone."""
    now = timezone.now()
    ok = subscribers(topic, 1, email="ok@example.com")[0]
    subscribers(topic, 1, email="erased@example.com", erased_at=now)
    subscribers(topic, 1, email="merged@example.com", merged_into=ok)
    suppress(subscribers(topic, 1, email="suppressed@example.com")[0])
    older = subscribers(topic, 1, email="older-form@example.com")[0]
    # Suppressed under an older canonical form of the address, kept as ContactAddressHash.
    ContactAddressHash.objects.create(
        contact=older, address_hash=address_hash("Older-Form@Example.com "), version=0
    )
    suppress(older, "Older-Form@Example.com ")
    SubscriptionFactory(
        contact=ContactFactory(email="unsubscribed@example.com"), topic=topic, status="unsubscribed"
    )
    SubscriptionFactory(
        contact=ContactFactory(email="pending@example.com"), topic=topic, status="pending"
    )
    SubscriptionFactory(contact=ContactFactory(email="other-topic@example.com"), topic=other_topic)
    SubscriptionFactory(
        contact=ContactFactory(email="paused@example.com"),
        topic=topic,
        paused_until=now + datetime.timedelta(days=3),
    )
    subscribers(
        topic,
        1,
        email="minor@example.com",
        birth_date=birth_date_cutoff(16, timezone.localdate()) + datetime.timedelta(days=1),
    )


EXPECTED_REASONS = {
    "ok@example.com": "",
    "erased@example.com": SkipReason.ERASED,
    "merged@example.com": SkipReason.MERGED,
    "suppressed@example.com": SkipReason.SUPPRESSED,
    "older-form@example.com": SkipReason.SUPPRESSED,
    "unsubscribed@example.com": SkipReason.UNSUBSCRIBED,
    "pending@example.com": SkipReason.UNSUBSCRIBED,
    "other-topic@example.com": SkipReason.UNSUBSCRIBED,
    "paused@example.com": SkipReason.PAUSED,
    "minor@example.com": SkipReason.UNDER_AGE,
}


def test_it_names_each_blocker_by_its_own_reason(blocked_one_way_each, topic, settings):
    settings.MINIMUM_AGE = 16

    assert reasons(topic) == EXPECTED_REASONS
    assert marketable(topic) == {"ok@example.com"}


def test_it_records_each_blockers_reason_when_the_recheck_skips_a_delivery(
    blocked_one_way_each, topic, campaign, settings
):
    settings.MINIMUM_AGE = 16
    contacts = dict(Contact.objects.values_list("email", "pk"))
    # Everyone was marketable when the audience was built; the blocks came after.
    for contact_id in contacts.values():
        Delivery.objects.create(campaign=campaign, contact_id=contact_id)

    claim_batch(campaign=campaign, size=100)

    skipped = dict(
        Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SKIPPED).values_list(
            "contact__email", "reason"
        )
    )
    assert skipped == {email: r for email, r in EXPECTED_REASONS.items() if r}


def test_it_names_the_first_blocker_in_table_order(topic):
    now = timezone.now()
    erased_and_suppressed = subscribers(topic, 1, email="a@example.com", erased_at=now)[0]
    suppress(erased_and_suppressed)
    suppressed_and_unsubscribed = ContactFactory(email="b@example.com")
    suppress(suppressed_and_unsubscribed)
    SubscriptionFactory(
        contact=ContactFactory(email="c@example.com", birth_date=timezone.localdate()),
        topic=topic,
        paused_until=now + datetime.timedelta(days=1),
    )

    assert reasons(topic) == {
        "a@example.com": SkipReason.ERASED,
        "b@example.com": SkipReason.SUPPRESSED,
        "c@example.com": SkipReason.PAUSED,
    }


def test_a_blocker_added_to_the_table_changes_marketable_and_the_skip_reason(
    topic, campaign, monkeypatch
):
    flagged = subscribers(topic, 1, email="flagged@example.com", attributes={"no_ads": True})[0]
    subscribers(topic, 1, email="plain@example.com")
    campaign_build_audience(campaign=campaign)
    assert marketable(topic) == {"flagged@example.com", "plain@example.com"}

    def _no_ads(topic, at, campaign=None):
        return (Q(attributes__contains={"no_ads": True}),)

    monkeypatch.setattr(
        querysets,
        "MARKETABILITY_BLOCKERS",
        (*querysets.MARKETABILITY_BLOCKERS, Blocker("no_ads", _no_ads)),
    )

    assert marketable(topic) == {"plain@example.com"}
    assert blocked_contacts(topic=topic, contact_ids=[flagged.pk]) == {flagged.pk: "no_ads"}
    claimed = claim_batch(campaign=campaign, size=10)
    assert [d.contact.email for d in claimed] == ["plain@example.com"]
    assert Delivery.objects.get(contact=flagged).reason == "no_ads"


def test_a_deleted_contact_is_skipped_as_erased(topic):
    contact = subscribers(topic, 1)[0]
    contact_id = contact.pk
    contact.delete()

    assert blocked_contacts(topic=topic, contact_ids=[contact_id]) == {
        contact_id: SkipReason.ERASED
    }


def test_the_marketable_query_stays_one_set_based_statement(topic):
    sql = str(Contact.objects.marketable(topic).query).upper()

    # Each blocker an anti-join or a plain condition: no per-row CASE in the audience query.
    assert "CASE" not in sql
    assert "NOT (NOT EXISTS" not in sql  # doubly negated, EXISTS is no semi-join: a subplan per row
    # Own hash, older hashes, ONE semi-join for every subscription blocker, and inside it ONE
    # EXISTS over recent deliveries for every frequency (the cap is off by default).
    assert sql.count("EXISTS") == 4


def test_marketable_and_the_reasons_agree_where_a_blocker_is_null(topic, monkeypatch):
    # A missing attribute makes `attributes__no_ads=True` NULL: it blocks (rule 1 errs towards
    # not sending), and the reason names it, so the re-check never meets a contact that is
    # neither marketable nor blocked.
    subscribers(topic, 1, email="flagged@example.com", attributes={"no_ads": True})
    subscribers(topic, 1, email="silent@example.com")
    subscribers(topic, 1, email="willing@example.com", attributes={"no_ads": False})

    def _no_ads(topic, at, campaign=None):
        return (Q(attributes__no_ads=True),)

    monkeypatch.setattr(
        querysets,
        "MARKETABILITY_BLOCKERS",
        (*querysets.MARKETABILITY_BLOCKERS, Blocker("no_ads", _no_ads)),
    )

    named = reasons(topic)
    assert marketable(topic) == {email for email, reason in named.items() if not reason}
    assert named["flagged@example.com"] == "no_ads"


def test_a_subscription_blocker_added_to_the_table_changes_marketable_and_the_reason(
    topic, campaign, monkeypatch
):
    monthly = ContactFactory(email="monthly@example.com")
    SubscriptionFactory(contact=monthly, topic=topic, frequency="monthly")
    subscribers(topic, 1, email="every@example.com")
    campaign_build_audience(campaign=campaign)

    def _monthly(topic, at, campaign=None):
        return (Q(frequency="monthly"),)

    monkeypatch.setattr(
        querysets,
        "MARKETABILITY_BLOCKERS",
        (
            *querysets.MARKETABILITY_BLOCKERS,
            Blocker("monthly", _monthly, on_subscription=True),
        ),
    )

    assert marketable(topic) == {"every@example.com"}
    claimed = claim_batch(campaign=campaign, size=10)
    assert [d.contact.email for d in claimed] == ["every@example.com"]
    assert Delivery.objects.get(contact=monthly).reason == "monthly"
