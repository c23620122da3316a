"""Consent owns every change of a Subscription: retention and erasure select, consent changes."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from unittest import mock

from django.utils import timezone

from subscriptions.consent import implied
from subscriptions.consent.implied import (
    subscriptions_lapse_soft_opt_in,
    subscriptions_withdraw_unconfirmed,
)
from subscriptions.consent.ledger import Actor
from subscriptions.models import ConsentEvent, Subscription
from subscriptions.privacy.retention import RETENTION_ACTOR, retention_lapse_implied
from tests.factories import ContactFactory, SubscriptionFactory

SUBSCRIPTIONS = Path(__file__).resolve().parents[2] / "subscriptions"
# What writing a Subscription looks like: saving or deleting a row, setting its status, or an
# UPDATE of its consent fields.
WRITES = re.compile(
    r"\bsubscriptions?\.(save|delete)\(|\.status\s*=\s*SubscriptionStatus|(?<!class )\bSubscription\("
    r"|Subscription\.objects\.(create|get_or_create|update_or_create|bulk_create)"
    r"|\.update\((status=SubscriptionStatus|legal_basis=|implied_by=|implied_at=|paused_until=)"
)


def _soft_opt_in(email, topic, days_ago):
    at = timezone.now() - datetime.timedelta(days=days_ago)
    return SubscriptionFactory(
        contact=ContactFactory(email=email),
        topic=topic,
        legal_basis="soft_opt_in",
        implied_by="purchase",
        implied_at=at,
        consented_at=at,
    )


def test_retention_lapses_through_the_consent_service(topic):
    old = _soft_opt_in("old@example.com", topic, 3000)
    with mock.patch(
        "subscriptions.privacy.retention.subscriptions_lapse_soft_opt_in",
        wraps=implied.subscriptions_lapse_soft_opt_in,
    ) as lapse:
        assert retention_lapse_implied(now=timezone.now()) == 1
    lapse.assert_called_once()
    assert lapse.call_args.kwargs["by"] == RETENTION_ACTOR
    event = ConsentEvent.objects.get(contact=old.contact)
    assert (event.action, event.source, event.old_status, event.new_status) == (
        "lapsed",
        "retention",
        "subscribed",
        "unsubscribed",
    )


def test_a_lapse_rechecks_each_row_under_its_lock(topic):
    soft = _soft_opt_in("soft@example.com", topic, 10)
    consent = SubscriptionFactory(contact=ContactFactory(email="c@example.com"), topic=topic)
    # The caller's selection named both, but the consent row is no soft opt-in and the soft one
    # was renewed since the scan: only what still matches at the lock may lapse.
    selection = Subscription.objects.filter(pk__in=[soft.pk, consent.pk])
    Subscription.objects.filter(pk=soft.pk).update(status="unsubscribed")
    assert subscriptions_lapse_soft_opt_in(selection=selection, by=RETENTION_ACTOR) == 0
    assert not ConsentEvent.objects.exists()


def test_withdrawing_an_unconfirmed_contact_records_each_subscription(topic, other_topic):
    contact = ContactFactory()
    for t in (topic, other_topic):
        SubscriptionFactory(contact=contact, topic=t, status="pending")
    removed = subscriptions_withdraw_unconfirmed(contact=contact, by=Actor(source="retention"))
    assert removed == 2
    assert not Subscription.objects.filter(contact=contact).exists()
    rows = ConsentEvent.objects.filter(contact=contact)
    assert sorted(rows.values_list("action", "old_status")) == [("lapsed", "pending")] * 2


def test_nothing_outside_consent_writes_a_subscription():
    writers = {
        path.relative_to(SUBSCRIPTIONS).as_posix()
        for path in SUBSCRIPTIONS.rglob("*.py")
        if not {"migrations", "consent"} & set(path.relative_to(SUBSCRIPTIONS).parts)
        and WRITES.search(path.read_text(encoding="utf-8"))
    }
    assert writers == set()
