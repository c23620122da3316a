"""Segments: every operator against real rows in PostgreSQL, AND/OR, strict validation, and a
campaign with a segment mailing only the segment while every blocker still applies (rule 1)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from subscriptions.campaigns import audience as audience_module
from subscriptions.campaigns import sending
from subscriptions.campaigns.audience import campaign_audience, campaign_build_audience
from subscriptions.campaigns.segments import (
    InvalidSegmentRules,
    SegmentInUse,
    SegmentNotChangeable,
    SegmentTopicMismatch,
    campaign_set_segment,
    segment_count,
    segment_delete,
    segment_rules_clean,
    segment_save,
)
from subscriptions.models import Contact, Delivery, Subscription
from subscriptions.models.choices import CampaignStatus
from tests.sending_factories import CampaignFactory, subscribers


def one(field: str, op: str, value=None) -> dict:
    condition = {"field": field, "op": op}
    if value is not None:
        condition["value"] = value
    return {"groups": [{"conditions": [condition]}]}


def selected(topic, rules) -> set[str]:
    segment = segment_save(name="s", topic=topic, rules=rules)
    campaign = CampaignFactory(topic=topic, segment=segment)
    return set(campaign_audience(campaign=campaign).values_list("email", flat=True))


@pytest.fixture
def people(topic):
    """Subscribers of `topic` who differ in every field a segment can test."""
    now = timezone.now()
    specs = {
        "dane": {
            "locale": "da",
            "country": "DK",
            "time_zone": "Europe/Copenhagen",
            "attributes": {"plan": "pro", "city": "Aarhus", "seats": 5},
        },
        "swede": {
            "locale": "da",
            "country": "SE",
            "time_zone": "Europe/Stockholm",
            "attributes": {"plan": "free", "city": "Malmö"},
        },
        "brit": {
            "locale": "en",
            "country": "GB",
            "time_zone": "Europe/London",
            "attributes": {"plan": "", "nickname": None},
        },
        "yank": {
            "locale": "en",
            "country": "US",
            "time_zone": "America/New_York",
            "attributes": {},
        },
    }
    found = {}
    for name, fields in specs.items():
        found[name] = subscribers(topic, 1, email=f"{name}@example.com", **fields)[0]
    # Consent dates and creation dates a week apart, oldest first.
    for age, name in enumerate(["yank", "brit", "swede", "dane"][::-1]):
        when = now - datetime.timedelta(days=7 * age)
        Subscription.objects.filter(contact=found[name], topic=topic).update(consented_at=when)
        Contact.objects.filter(pk=found[name].pk).update(created_at=when)
    return found


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (one("locale", "equals", "da"), {"dane", "swede"}),
        (one("locale", "in", ["EN", "da-DK"]), {"dane", "swede", "brit", "yank"}),
        (one("locale", "in", ["en"]), {"brit", "yank"}),
        (one("country", "equals", "gb"), {"brit"}),
        (one("country", "in", ["US", "SE"]), {"yank", "swede"}),
        (one("time_zone", "equals", "Europe/London"), {"brit"}),
        (one("time_zone", "in", ["Europe/London", "America/New_York"]), {"brit", "yank"}),
        (one("attributes.plan", "equals", "pro"), {"dane"}),
        (one("attributes.seats", "equals", 5), {"dane"}),
        (one("attributes.city", "contains", "malm"), {"swede"}),
        (one("attributes.plan", "is_set"), {"dane", "swede"}),
        (one("attributes.plan", "is_not_set"), {"brit", "yank"}),
        (one("attributes.nickname", "is_set"), set()),
        ({}, {"dane", "swede", "brit", "yank"}),
    ],
)
def test_each_operator_selects_the_matching_contacts(topic, people, rules, expected):
    assert selected(topic, rules) == {f"{name}@example.com" for name in expected}


def test_subscribed_and_created_dates_select_by_the_topic_s_consent_date(
    topic, other_topic, people
):
    ten_days_ago = (timezone.localdate() - datetime.timedelta(days=10)).isoformat()
    # Consent to another topic does not count for this one.
    Subscription.objects.create(
        contact=people["yank"], topic=other_topic, status="subscribed", consented_at=timezone.now()
    )

    assert selected(topic, one("subscribed", "since", ten_days_ago)) == {
        "dane@example.com",
        "swede@example.com",
    }
    assert selected(topic, one("subscribed", "before", ten_days_ago)) == {
        "brit@example.com",
        "yank@example.com",
    }
    assert selected(topic, one("created", "since", ten_days_ago)) == {
        "dane@example.com",
        "swede@example.com",
    }
    assert selected(topic, one("created", "before", ten_days_ago)) == {
        "brit@example.com",
        "yank@example.com",
    }


def test_groups_combine_and_of_ors_and_or_of_ands(topic, people):
    nordic_pro = {
        "match": "all",
        "groups": [
            {
                "match": "any",
                "conditions": [
                    {"field": "country", "op": "equals", "value": "DK"},
                    {"field": "country", "op": "equals", "value": "SE"},
                ],
            },
            {"conditions": [{"field": "attributes.plan", "op": "equals", "value": "pro"}]},
        ],
    }
    english_or_free = {
        "match": "any",
        "groups": [
            {
                "match": "all",
                "conditions": [
                    {"field": "locale", "op": "equals", "value": "en"},
                    {"field": "country", "op": "equals", "value": "US"},
                ],
            },
            {"conditions": [{"field": "attributes.plan", "op": "equals", "value": "free"}]},
        ],
    }

    assert selected(topic, nordic_pro) == {"dane@example.com"}
    assert selected(topic, english_or_free) == {"yank@example.com", "swede@example.com"}


def test_a_value_is_a_parameter_never_sql(topic, people):
    hostile = "x' OR 1=1 --"
    assert selected(topic, one("attributes.plan", "equals", hostile)) == set()
    assert selected(topic, one("attributes.city", "contains", "%")) == set()
    assert Contact.objects.count() == 4


@pytest.mark.parametrize(
    ("rules", "names"),
    [
        (one("shoe_size", "equals", "9"), "groups[0].conditions[0].field: unknown field"),
        (one("locale", "contains", "d"), "groups[0].conditions[0].op: 'contains' does not"),
        (one("locale", "equals", "xx"), "groups[0].conditions[0].value: 'xx' is not a supported"),
        (one("country", "in", ["DK", "Denmark"]), "groups[0].conditions[0].value[1]:"),
        (one("time_zone", "equals", "Mars/Base"), "value: 'Mars/Base' is not a time zone"),
        (one("subscribed", "since", "last week"), "value: 'last week' is not a date"),
        (one("attributes.a b", "is_set"), "field: an attribute name"),
        (one("attributes.plan", "is_set", "yes"), "value: this operator takes no value"),
        (one("attributes.plan", "equals", ["pro"]), "value: a text, a number"),
        ({"groups": [{"conditions": []}]}, "groups[0].conditions: at least one"),
        ({"match": "most", "groups": []}, 'match: use "all" or "any"'),
        ({"groups": [], "extra": 1}, "unknown key 'extra'"),
        ([1, 2], "an object is required"),
    ],
)
def test_it_refuses_bad_rules_naming_the_rule(rules, names):
    with pytest.raises(InvalidSegmentRules) as refused:
        segment_rules_clean(rules)
    assert names in str(refused.value)


def test_rules_are_stored_normalised(topic):
    segment = segment_save(
        name="Nordics", topic=topic, rules=one("country", "in", ["se", "DK", "dk"])
    )
    segment.refresh_from_db()
    assert segment.rules == {
        "match": "all",
        "groups": [
            {
                "match": "all",
                "conditions": [
                    {"field": "country", "op": "in", "value": ["DK", "SE"]},
                ],
            }
        ],
    }


def test_a_campaign_with_a_segment_mails_only_the_segment_and_every_blocker_holds(
    topic, audience, outbox
):
    # Everyone in the audience fixture speaks Danish: the segment leaves no blocker aside.
    Contact.objects.update(locale="da")
    english = subscribers(topic, 2, locale="en")
    segment = segment_save(name="Danes", topic=topic, rules=one("locale", "equals", "da"))
    campaign = CampaignFactory(
        topic=topic, segment=segment, status=CampaignStatus.SENDING, started_at=timezone.now()
    )

    added = campaign_build_audience(campaign=campaign)
    sending.send_until_done(campaign=campaign)

    assert added == 2
    assert sorted(m.to[0] for m in outbox) == sorted([audience["ann"].email, audience["bob"].email])
    assert not Delivery.objects.filter(contact__in=english).exists()


def test_the_segment_narrows_inside_the_split_audience_build(topic, settings, monkeypatch, people):
    monkeypatch.setattr(audience_module, "AUDIENCE_SPLIT_MIN_IDS", 0)
    settings.AUDIENCE_BUILD_CONNECTIONS = 2
    segment = segment_save(name="EN", topic=topic, rules=one("locale", "equals", "en"))
    campaign = CampaignFactory(topic=topic, segment=segment, status=CampaignStatus.SENDING)

    assert campaign_build_audience(campaign=campaign) == 2
    assert set(Delivery.objects.values_list("contact__email", flat=True)) == {
        "brit@example.com",
        "yank@example.com",
    }


def test_the_count_is_the_audience_the_build_inserts(topic, people, audience):
    rules = one("attributes.plan", "is_set")
    segment = segment_save(name="Has a plan", topic=topic, rules=rules)
    campaign = CampaignFactory(topic=topic, segment=segment, status=CampaignStatus.SENDING)

    assert segment_count(rules=rules, topic=topic) == 2
    assert campaign_build_audience(campaign=campaign) == 2


def test_a_segment_of_another_topic_or_a_started_campaign_is_refused(topic, other_topic):
    segment = segment_save(name="Other", topic=other_topic, rules={})
    draft = CampaignFactory(topic=topic)
    started = CampaignFactory(topic=topic, status=CampaignStatus.SENDING)

    with pytest.raises(SegmentTopicMismatch):
        campaign_set_segment(campaign=draft, segment=segment)
    with pytest.raises(SegmentNotChangeable):
        campaign_set_segment(campaign=started, segment=None)
    draft.refresh_from_db()
    assert draft.segment is None


def test_a_segment_in_use_is_kept(topic):
    segment = segment_save(name="Kept", topic=None, rules={})
    campaign = CampaignFactory(topic=topic)
    campaign_set_segment(campaign=campaign, segment=segment)

    with pytest.raises(SegmentInUse):
        segment_delete(segment=segment)
    campaign.segment = None
    campaign.save()
    segment_delete(segment=segment)
