from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from subscriptions.campaigns.stats import campaign_stats
from subscriptions.consent.implied import UnknownSignal, contact_record_signal
from subscriptions.consent.ledger import Actor, record
from subscriptions.models import (
    Campaign,
    CampaignStatsArchive,
    ConsentEvent,
    Contact,
    Delivery,
    LinkHit,
    Subscription,
    Suppression,
)
from subscriptions.privacy.retention import (
    apply_retention,
    retention_archive_deliveries,
    retention_erase_unconfirmed,
    retention_lapse_implied,
    retention_minimise_ledger,
    retention_minimise_link_hits,
)
from subscriptions.privacy.tasks import apply_retention as apply_retention_task
from tests.factories import ContactFactory, SubscriptionFactory

NOW = timezone.now()


def days_ago(n: float) -> datetime.datetime:
    return NOW - datetime.timedelta(days=n)


def _aged(subscription, created_at):
    Subscription.objects.filter(pk=subscription.pk).update(created_at=created_at)
    return subscription


# --- never-confirmed contacts ----------------------------------------------------------------


@pytest.fixture
def unconfirmed(topic, other_topic):
    """stale: pending 8 days; fresh: pending 6 days; mixed: stale pending + subscribed."""
    stale = ContactFactory(email="stale@example.com")
    _aged(SubscriptionFactory(contact=stale, topic=topic, status="pending"), days_ago(8))
    _aged(SubscriptionFactory(contact=stale, topic=other_topic, status="pending"), days_ago(9))
    record(contact=stale, topic=topic, action="subscribe_requested", by=Actor(source="api"))
    fresh = ContactFactory(email="fresh@example.com")
    _aged(SubscriptionFactory(contact=fresh, topic=topic, status="pending"), days_ago(6))
    mixed = ContactFactory(email="mixed@example.com")
    _aged(SubscriptionFactory(contact=mixed, topic=topic, status="pending"), days_ago(8))
    SubscriptionFactory(contact=mixed, topic=other_topic, status="subscribed")
    lonely = ContactFactory(email="no-subscriptions@example.com")
    return stale, fresh, mixed, lonely


def test_it_erases_exactly_the_stale_unconfirmed_contacts(unconfirmed, settings):
    settings.RETENTION_PENDING_DAYS = 7
    stale, fresh, mixed, lonely = unconfirmed
    assert retention_erase_unconfirmed(now=NOW, dry_run=True) == 1
    assert Contact.objects.get(pk=stale.pk).erased_at is None
    assert retention_erase_unconfirmed(now=NOW) == 1
    erased = Contact.objects.get(pk=stale.pk)
    assert erased.erased_at is not None and erased.email == ""
    assert not Subscription.objects.filter(contact=erased).exists()
    # they never opted in or out: no suppression, they may sign up again
    assert not Suppression.objects.exists()
    actions = list(
        ConsentEvent.objects.filter(contact=erased, source="retention").values_list(
            "action", "old_status"
        )
    )
    assert sorted(actions) == [("erased", ""), ("lapsed", "pending"), ("lapsed", "pending")]
    # the pre-existing ledger row stays, scrubbed
    assert ConsentEvent.objects.filter(contact=erased, action="subscribe_requested").exists()
    assert Contact.objects.active().filter(pk__in=[fresh.pk, mixed.pk, lonely.pk]).count() == 3
    assert retention_erase_unconfirmed(now=NOW) == 0


def test_it_follows_the_pending_setting(unconfirmed, settings):
    settings.RETENTION_PENDING_DAYS = 5
    assert retention_erase_unconfirmed(now=NOW) == 2


# --- implied consent -------------------------------------------------------------------------


@pytest.fixture
def implied(topic, other_topic):
    def soft(email, implied_by, age_days, topic=topic, status="subscribed"):
        contact = ContactFactory(email=email)
        return SubscriptionFactory(
            contact=contact,
            topic=topic,
            status=status,
            legal_basis="soft_opt_in",
            implied_by=implied_by,
            implied_at=days_ago(age_days),
        )

    return {
        "old_purchase": soft("p-old@example.com", "purchase", 731),
        "recent_purchase": soft("p-new@example.com", "purchase", 729),
        "old_inquiry": soft("i-old@example.com", "inquiry", 184),
        "recent_inquiry": soft("i-new@example.com", "inquiry", 182),
        "already_out": soft("out@example.com", "purchase", 900, status="unsubscribed"),
        "consent": SubscriptionFactory(
            contact=ContactFactory(email="c@example.com"), topic=topic, consented_at=days_ago(2000)
        ),
    }


def test_it_lapses_exactly_the_implied_consents_past_their_period(implied, topic):
    assert retention_lapse_implied(now=NOW, dry_run=True) == 2
    assert retention_lapse_implied(now=NOW) == 2
    statuses = {name: Subscription.objects.get(pk=s.pk).status for name, s in implied.items()}
    assert statuses == {
        "old_purchase": "unsubscribed",
        "recent_purchase": "subscribed",
        "old_inquiry": "unsubscribed",
        "recent_inquiry": "subscribed",
        "already_out": "unsubscribed",
        "consent": "subscribed",
    }
    events = ConsentEvent.objects.filter(action="lapsed")
    assert events.count() == 2
    assert set(events.values_list("source", "old_status", "new_status")) == {
        ("retention", "subscribed", "unsubscribed")
    }
    marketable = set(Contact.objects.marketable(topic).values_list("email", flat=True))
    assert marketable == {"p-new@example.com", "i-new@example.com", "c@example.com"}
    assert retention_lapse_implied(now=NOW) == 0


def test_it_follows_the_implied_consent_settings(implied, settings):
    settings.RETENTION_IMPLIED_PURCHASE_DAYS = 800
    settings.RETENTION_IMPLIED_INQUIRY_DAYS = 100
    assert retention_lapse_implied(now=NOW) == 2  # old and recent inquiry
    assert Subscription.objects.get(pk=implied["old_purchase"].pk).status == "subscribed"


def test_it_renews_implied_consent_on_a_new_purchase(implied):
    old = implied["old_purchase"]
    assert contact_record_signal(contact=old.contact, kind="purchase", at=NOW) == 1
    assert retention_lapse_implied(now=NOW) == 1  # only the old inquiry now
    assert Subscription.objects.get(pk=old.pk).status == "subscribed"


def test_it_renews_inquiry_consent_only_with_an_inquiry(implied):
    old_inquiry = implied["old_inquiry"]
    assert contact_record_signal(contact=old_inquiry.contact, kind="inquiry", at=NOW) == 1
    old_purchase = implied["old_purchase"]
    assert contact_record_signal(contact=old_purchase.contact, kind="inquiry", at=NOW) == 0
    assert retention_lapse_implied(now=NOW) == 1


def test_it_refuses_an_unknown_signal(alice):
    with pytest.raises(UnknownSignal):
        contact_record_signal(contact=alice, kind="visit", at=NOW)


# --- ledger minimisation ---------------------------------------------------------------------


def test_it_blanks_ip_and_user_agent_after_the_setting(subscribed_alice, topic, settings):
    def row(ip="198.51.100.0/24", ua="UA"):
        # The database stamps created_at itself (nobody back-dates the ledger): ages come from
        # the `now` the rule is applied at.
        return ConsentEvent.objects.create(
            contact=subscribed_alice,
            topic=topic,
            action="subscribed",
            source="preference_page",
            ip_address=ip,
            user_agent=ua,
            evidence="kept",
        )

    old, old_ua_only = row(), row(ip=None)
    row(ip=None, ua="")  # nothing left to blank
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        boundary = cursor.fetchone()[0]
    recent = row()
    settings.RETENTION_LEDGER_NETWORK_DAYS = 30
    later = boundary + datetime.timedelta(days=30)
    assert retention_minimise_ledger(now=later, dry_run=True) == 2
    assert retention_minimise_ledger(now=later) == 2
    for event in (old, old_ua_only):
        event.refresh_from_db()
        assert (event.ip_address, event.user_agent, event.evidence) == (None, "", "kept")
    recent.refresh_from_db()
    assert (recent.ip_address, recent.user_agent) == ("198.51.100.0/24", "UA")
    assert retention_minimise_ledger(now=later) == 0
    settings.RETENTION_LEDGER_NETWORK_DAYS = 29  # the recent row is now a day too old
    assert retention_minimise_ledger(now=later) == 1


def test_it_blanks_user_agents_of_old_link_opens(subscribed_alice, settings):
    settings.RETENTION_LEDGER_NETWORK_DAYS = 30
    old = LinkHit.objects.create(
        contact=subscribed_alice,
        kind="unsubscribe",
        user_agent="Scanner",
        day=days_ago(31).date(),
        created_at=days_ago(31),
        last_at=days_ago(31),
    )
    recent = LinkHit.objects.create(
        contact=subscribed_alice,
        kind="unsubscribe",
        user_agent="Firefox",
        day=days_ago(1).date(),
        created_at=days_ago(1),
        last_at=days_ago(1),
    )
    assert retention_minimise_link_hits(now=NOW, dry_run=True) == 1
    assert retention_minimise_link_hits(now=NOW) == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.user_agent, recent.user_agent) == ("", "Firefox")


# --- deliveries ------------------------------------------------------------------------------


@pytest.fixture
def old_campaign(topic):
    campaign = Campaign.objects.create(
        name="Old", topic=topic, subject="s", html_body="b", status="sent"
    )
    contacts = [ContactFactory() for _ in range(5)]
    outcomes = [
        ("sent", "", 400),
        ("sent", "", 400),
        ("skipped", "unsubscribed", 400),
        ("failed", "outcome_unknown", 400),
        ("sent", "", 10),  # recent: stays
    ]
    for contact, (status, reason, age) in zip(contacts, outcomes, strict=True):
        Delivery.objects.create(
            campaign=campaign, contact=contact, status=status, reason=reason, sent_at=days_ago(age)
        )
    sending = Campaign.objects.create(
        name="Running", topic=topic, subject="s", html_body="b", status="sending"
    )
    Delivery.objects.create(
        campaign=sending, contact=contacts[0], status="sent", sent_at=days_ago(400)
    )
    return campaign


def archived_by_status(campaign) -> dict[str, int]:
    """The archived counts per delivery status, as campaign statistics add them up."""
    totals: dict[str, int] = {}
    for row in CampaignStatsArchive.objects.filter(campaign=campaign).outcome_rows():
        totals[row["status"]] = totals.get(row["status"], 0) + row["n"]
    return totals


def test_it_archives_old_deliveries_into_campaign_stats(old_campaign, settings):
    settings.RETENTION_DELIVERY_DAYS = 365
    settings.RETENTION_BATCH_SIZE = 2  # several batches
    assert retention_archive_deliveries(now=NOW, dry_run=True) == 4
    assert Delivery.objects.count() == 6
    assert retention_archive_deliveries(now=NOW) == 4
    assert Delivery.objects.filter(campaign=old_campaign).count() == 1
    assert Delivery.objects.count() == 2  # the running campaign's row stays
    assert archived_by_status(old_campaign) == {"sent": 2, "skipped": 1, "failed": 1}
    assert CampaignStatsArchive.objects.get(status="skipped").reason == "unsubscribed"
    assert {
        "status": "skipped",
        "reason": "unsubscribed",
        "n": 1,
    } in CampaignStatsArchive.objects.filter(campaign=old_campaign).outcome_rows()
    assert retention_archive_deliveries(now=NOW) == 0


def test_it_adds_to_existing_archive_counts(old_campaign, settings):
    settings.RETENTION_DELIVERY_DAYS = 365
    retention_archive_deliveries(now=NOW)
    retention_archive_deliveries(now=NOW + datetime.timedelta(days=360))
    assert archived_by_status(old_campaign)["sent"] == 3


# --- the whole job ---------------------------------------------------------------------------


def test_it_prints_what_a_dry_run_would_change(unconfirmed, implied, old_campaign):
    out = StringIO()
    call_command("apply_retention", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "never-confirmed contacts erased: 1 (would change)" in text
    assert "implied (soft opt-in) consents lapsed: 2 (would change)" in text
    assert "old delivery rows archived into campaign stats: 4 (would change)" in text
    assert Delivery.objects.count() == 6
    assert not ConsentEvent.objects.filter(source="retention").exists()


def test_it_applies_every_rule_from_the_command_and_the_task(unconfirmed, implied, old_campaign):
    out = StringIO()
    call_command("apply_retention", stdout=out)
    assert "implied (soft opt-in) consents lapsed: 2 (changed)" in out.getvalue()
    assert apply_retention_task() == {
        "unconfirmed_contacts_erased": 0,
        "implied_consents_lapsed": 0,
        "ledger_rows_minimised": 0,
        "link_hits_minimised": 0,
        "confirmation_requests_deleted": 0,
        "deliveries_archived": 0,
    }
    assert apply_retention(dry_run=True)["deliveries_archived"] == 0


def test_it_schedules_retention_daily_with_beat(settings):
    from prefcenter.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["privacy-apply-retention"]
    assert entry["task"] == "subscriptions.tasks.retention.apply_retention"
    assert entry["task"] in app.tasks
    assert entry["schedule"].hour == {settings.RETENTION_HOUR}


def test_it_keeps_bounce_complaint_and_unsubscribe_counts_when_archiving(topic, settings):
    settings.RETENTION_DELIVERY_DAYS = 365
    campaign = Campaign.objects.create(
        name="Old", topic=topic, subject="s", html_body="b", status="sent"
    )
    marks = [
        {"bounced_at": days_ago(400)},
        {"complained_at": days_ago(400), "unsubscribed_at": days_ago(400)},
        {"unsubscribed_at": days_ago(400)},  # also unsubscribed through the link: once
        {"unsubscribed_at": days_ago(10)},  # recent: stays live
        {},
    ]
    contacts = [ContactFactory() for _ in marks]
    for contact, mark, age in zip(contacts, marks, [400, 400, 400, 10, 400], strict=True):
        Delivery.objects.create(
            campaign=campaign, contact=contact, status="sent", sent_at=days_ago(age), **mark
        )
    record(
        contact=contacts[2],
        topic=topic,
        action="unsubscribed",
        by=Actor(source="one_click", campaign_id=campaign.pk),
    )
    before = campaign_stats(campaign)
    assert (before["bounced"], before["complained"], before["unsubscribed"]) == (1, 1, 3)

    assert retention_archive_deliveries(now=NOW) == 4

    assert Delivery.objects.filter(campaign=campaign).count() == 1
    assert campaign_stats(campaign) == before
    archived = CampaignStatsArchive.objects.get(campaign=campaign, status="sent")
    # contact 2's unsubscribe stays counted through the ledger, never deleted.
    assert (archived.bounced, archived.complained, archived.unsubscribed) == (1, 1, 1)
