"""A chosen frequency and the per-contact cap are kept at send time (DESIGN: Subscription,
issue 11): two blockers of MARKETABILITY_BLOCKERS, so marketable(), the skip reason and the
claim-time re-check agree."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from prefcenter.settings import env_contact_cap
from subscriptions.campaigns.audience import campaign_build_audience
from subscriptions.campaigns.claims import blocked_contacts, claim_batch
from subscriptions.models import Contact, Delivery
from subscriptions.models.choices import CampaignStatus, DeliveryStatus, SkipReason
from tests.factories import ContactFactory, SubscriptionFactory, TopicFactory
from tests.sending_factories import CampaignFactory

AT = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)
SECOND = datetime.timedelta(seconds=1)
WINDOWS = {"daily": DAY, "weekly": 7 * DAY, "monthly": 30 * DAY}


# Every frequency offered, so any subscription below is one its topic allows.
@pytest.fixture
def topic(db):
    return TopicFactory(
        slug="product-news", frequencies=["immediate", "daily", "weekly", "monthly"]
    )


@pytest.fixture
def other_topic(db):
    return TopicFactory(slug="weekly-digest", frequencies=["immediate", "weekly"])


def subscriber(topic, frequency: str, email: str | None = None) -> Contact:
    contact = ContactFactory(**({"email": email} if email else {}))
    SubscriptionFactory(contact=contact, topic=topic, frequency=frequency)
    return contact


def sent(contact, topic, when: datetime.datetime, status: str = DeliveryStatus.SENT) -> Delivery:
    """A delivery of a fresh campaign of `topic` to `contact`, sent (or claimed) at `when`."""
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENDING)
    return Delivery.objects.create(
        campaign=campaign,
        contact=contact,
        status=status,
        claimed_at=when,
        sent_at=when if status == DeliveryStatus.SENT else None,
    )


def reason(contact, topic, campaign=None, at: datetime.datetime = AT) -> str:
    return (
        Contact.objects.filter(pk=contact.pk)
        .with_block_reason(topic, at=at, campaign=campaign)
        .get()
        .block_reason
    )


def is_marketable(contact, topic, campaign=None, at: datetime.datetime = AT) -> bool:
    return (
        Contact.objects.marketable(topic, at=at, campaign=campaign).filter(pk=contact.pk).exists()
    )


@pytest.mark.parametrize("frequency", ["daily", "weekly", "monthly"])
def test_it_blocks_a_second_campaign_of_the_topic_inside_the_window(topic, frequency):
    window = WINDOWS[frequency]
    inside = subscriber(topic, frequency)
    sent(inside, topic, AT - window + SECOND)
    edge = subscriber(topic, frequency)
    sent(edge, topic, AT - window)  # exactly one window ago: the rolling window has passed
    outside = subscriber(topic, frequency)
    sent(outside, topic, AT - window - SECOND)

    assert (is_marketable(inside, topic), reason(inside, topic)) == (False, SkipReason.FREQUENCY)
    assert (is_marketable(edge, topic), reason(edge, topic)) == (True, "")
    assert (is_marketable(outside, topic), reason(outside, topic)) == (True, "")


def test_it_sends_every_campaign_to_an_immediate_subscriber(topic):
    contact = subscriber(topic, "immediate")
    sent(contact, topic, AT - SECOND)

    assert is_marketable(contact, topic)
    assert reason(contact, topic) == ""


def test_a_campaign_of_another_topic_does_not_count(topic, other_topic):
    contact = subscriber(topic, "weekly")
    SubscriptionFactory(contact=contact, topic=other_topic, frequency="weekly")
    sent(contact, other_topic, AT - SECOND)

    assert is_marketable(contact, topic)
    assert not is_marketable(contact, other_topic)


def test_a_claim_in_flight_counts_and_an_unsent_delivery_does_not(topic):
    # Two campaigns sent at once: the other one's claim made a moment ago already counts.
    claimed = subscriber(topic, "weekly")
    sent(claimed, topic, AT - SECOND, status=DeliveryStatus.CLAIMED)
    stale_claim = subscriber(topic, "weekly")
    sent(stale_claim, topic, AT - 8 * DAY, status=DeliveryStatus.CLAIMED)
    unsent = subscriber(topic, "weekly")
    for status in (DeliveryStatus.PENDING, DeliveryStatus.SKIPPED, DeliveryStatus.FAILED):
        sent(unsent, topic, AT - SECOND, status=status)

    assert reason(claimed, topic) == SkipReason.FREQUENCY
    assert reason(stale_claim, topic) == ""
    assert reason(unsent, topic) == ""


def test_the_campaign_being_sent_does_not_count_against_its_own_recipients(topic):
    contact = subscriber(topic, "weekly")
    own = sent(contact, topic, AT - SECOND, status=DeliveryStatus.CLAIMED)

    assert is_marketable(contact, topic, campaign=own.campaign)
    assert reason(contact, topic, campaign=own.campaign) == ""
    # Without the campaign every delivery counts (an audience build has none of its own yet).
    assert reason(contact, topic) == SkipReason.FREQUENCY


def test_the_claim_time_recheck_skips_a_weekly_contact_with_reason_frequency(topic):
    weekly = subscriber(topic, "weekly", email="weekly@example.com")
    immediate = subscriber(topic, "immediate", email="immediate@example.com")
    fresh = subscriber(topic, "weekly", email="fresh@example.com")
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENDING)
    campaign_build_audience(campaign=campaign)
    # Another campaign of the topic reached two of them after this audience was built.
    now = timezone.now()
    sent(weekly, topic, now - DAY)
    sent(immediate, topic, now - DAY)

    claimed = claim_batch(campaign=campaign, size=10)

    assert sorted(d.contact.email for d in claimed) == [
        "fresh@example.com",
        "immediate@example.com",
    ]
    assert Delivery.objects.get(campaign=campaign, contact=weekly).reason == SkipReason.FREQUENCY
    # The re-check before each stretch of send calls ignores the campaign's own claims.
    ids = [immediate.pk, fresh.pk]
    assert blocked_contacts(topic=topic, contact_ids=ids, campaign=campaign) == {}


def test_an_audience_leaves_out_a_contact_blocked_by_frequency_when_it_is_built(topic):
    blocked = subscriber(topic, "monthly")
    sent(blocked, topic, timezone.now() - 10 * DAY)
    welcome = subscriber(topic, "monthly")
    campaign = CampaignFactory(topic=topic)

    assert campaign_build_audience(campaign=campaign) == 1
    assert list(Delivery.objects.filter(campaign=campaign).values_list("contact", flat=True)) == [
        welcome.pk
    ]


def test_the_cap_counts_campaigns_of_every_topic_in_its_window(topic, other_topic, settings):
    settings.MARKETING_MAX_PER_CONTACT = (2, 7 * DAY)
    capped = subscriber(topic, "immediate")
    sent(capped, topic, AT - DAY)
    sent(capped, other_topic, AT - 7 * DAY + SECOND)
    below = subscriber(topic, "immediate")
    sent(below, other_topic, AT - DAY)
    sent(below, other_topic, AT - 7 * DAY)  # left the window
    sent(below, other_topic, AT - DAY, status=DeliveryStatus.SKIPPED)

    assert (is_marketable(capped, topic), reason(capped, topic)) == (
        False,
        SkipReason.CONTACT_CAP,
    )
    assert (is_marketable(below, topic), reason(below, topic)) == (True, "")


def test_the_cap_does_not_count_the_campaign_being_sent(topic, other_topic, settings):
    settings.MARKETING_MAX_PER_CONTACT = (2, 7 * DAY)
    contact = subscriber(topic, "immediate")
    sent(contact, other_topic, AT - DAY)
    own = sent(contact, topic, AT - SECOND, status=DeliveryStatus.CLAIMED)

    assert is_marketable(contact, topic, campaign=own.campaign)
    assert reason(contact, topic) == SkipReason.CONTACT_CAP


def test_the_cap_is_off_unless_configured(topic, settings):
    settings.MARKETING_MAX_PER_CONTACT = None
    contact = subscriber(topic, "immediate")
    for _ in range(5):
        sent(contact, topic, AT - SECOND)

    assert is_marketable(contact, topic)


def test_frequency_is_named_before_the_cap(topic, settings):
    settings.MARKETING_MAX_PER_CONTACT = (1, DAY)
    contact = subscriber(topic, "daily")
    sent(contact, topic, AT - SECOND)

    assert reason(contact, topic) == SkipReason.FREQUENCY


def test_the_cap_recheck_is_one_query_per_batch(
    topic, other_topic, settings, django_assert_num_queries
):
    settings.MARKETING_MAX_PER_CONTACT = (1, 7 * DAY)
    contacts = [subscriber(topic, "weekly") for _ in range(20)]
    for contact in contacts:
        sent(contact, other_topic, timezone.now() - DAY)

    with django_assert_num_queries(2):  # marketable, then the reasons of the blocked
        blocked = blocked_contacts(topic=topic, contact_ids=[c.pk for c in contacts])

    assert set(blocked.values()) == {SkipReason.CONTACT_CAP}


@pytest.mark.parametrize(
    ("value", "cap"),
    [
        ("", None),
        ("3/7d", (3, 7 * DAY)),
        ("1/1d", (1, DAY)),
        ("10/24h", (10, datetime.timedelta(hours=24))),
    ],
)
def test_it_reads_the_cap_from_the_environment(monkeypatch, value, cap):
    monkeypatch.setenv("MARKETING_MAX_PER_CONTACT", value)

    assert env_contact_cap("MARKETING_MAX_PER_CONTACT") == cap


@pytest.mark.parametrize("value", ["3", "3/7", "0/7d", "3/0d", "3/7w", "three/7d", "-1/7d"])
def test_it_refuses_to_start_with_a_cap_it_cannot_read(monkeypatch, value):
    monkeypatch.setenv("MARKETING_MAX_PER_CONTACT", value)

    with pytest.raises(ImproperlyConfigured, match="MARKETING_MAX_PER_CONTACT"):
        env_contact_cap("MARKETING_MAX_PER_CONTACT")
