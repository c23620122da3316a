from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from subscriptions.consent import tokens
from subscriptions.consent.ledger import Actor, record
from subscriptions.models import Contact, PolicyVersion, Suppression, TransactionalMessage
from subscriptions.models.policy import current_policy_version
from subscriptions.models.querysets import birth_date_cutoff as cutoff
from subscriptions.privacy.policy import PolicyNoticeTooShort, policy_publish, policy_send_notices
from subscriptions.privacy.tasks import send_policy_notices
from tests.factories import ContactFactory, SubscriptionFactory

NOW = timezone.now()


def in_days(n: float) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(days=n)


# --- minimum age -----------------------------------------------------------------------------


def _born(years_ago_today: int, days_later: int = 0) -> datetime.date:
    """The birth date of someone who turns `years_ago_today` in `days_later` days."""
    return cutoff(years_ago_today, timezone.localdate() + datetime.timedelta(days=days_later))


def test_it_never_markets_to_someone_under_the_minimum_age(topic, settings):
    settings.MINIMUM_AGE = 16
    child = ContactFactory(birth_date=_born(16, days_later=1))
    SubscriptionFactory(contact=child, topic=topic)
    adult = ContactFactory(birth_date=_born(16))
    SubscriptionFactory(contact=adult, topic=topic)
    unknown_age = ContactFactory()
    SubscriptionFactory(contact=unknown_age, topic=topic)
    assert set(Contact.objects.marketable(topic)) == {adult, unknown_age}


def test_it_markets_on_their_birthday_only_if_they_consented(topic, other_topic, settings):
    settings.MINIMUM_AGE = 16
    consented = ContactFactory(birth_date=_born(16, days_later=1))
    SubscriptionFactory(contact=consented, topic=topic)
    never_asked = ContactFactory(birth_date=_born(16, days_later=1))
    SubscriptionFactory(contact=never_asked, topic=other_topic)
    pending = ContactFactory(birth_date=_born(16, days_later=1))
    SubscriptionFactory(contact=pending, topic=topic, status="pending")
    birthday = timezone.now() + datetime.timedelta(days=1)
    assert not Contact.objects.marketable(topic).exists()
    assert list(Contact.objects.marketable(topic, at=birthday)) == [consented]


def test_it_applies_the_minimum_age_of_the_contacts_country(topic, settings):
    settings.MINIMUM_AGE = 16
    settings.MINIMUM_AGE_BY_COUNTRY = {"DK": 13}
    dane = ContactFactory(country="DK", birth_date=_born(14))
    SubscriptionFactory(contact=dane, topic=topic)
    young_dane = ContactFactory(country="DK", birth_date=_born(13, days_later=1))
    SubscriptionFactory(contact=young_dane, topic=topic)
    german = ContactFactory(country="DE", birth_date=_born(14))
    SubscriptionFactory(contact=german, topic=topic)
    assert list(Contact.objects.marketable(topic)) == [dane]


# --- policy versions -------------------------------------------------------------------------


def test_it_records_the_version_in_force_on_every_ledger_row(alice, settings):
    settings.POLICY_VERSION = "settings-1"
    assert current_policy_version() == "settings-1"
    PolicyVersion.objects.create(version="2024-01", effective_at=in_days(-10))
    PolicyVersion.objects.create(version="2025-01", effective_at=in_days(40), is_material=True)
    assert current_policy_version() == "2024-01"
    assert current_policy_version(at=in_days(41)) == "2025-01"
    event = record(contact=alice, action="subscribed", by=Actor(source="api"))
    assert event.policy_version == "2024-01"


def test_it_refuses_a_material_change_with_too_little_notice(db, settings):
    settings.POLICY_NOTICE_MIN_DAYS = 30
    with pytest.raises(PolicyNoticeTooShort):
        policy_publish(version="2", effective_at=in_days(29), is_material=True, summary="x")
    assert not PolicyVersion.objects.exists()
    # a minor change may take effect at once, and sends nothing
    policy_publish(version="1.1", effective_at=in_days(0), is_material=False)
    assert not TransactionalMessage.objects.exists()


@pytest.fixture
def audience(topic, other_topic):
    subscribed = ContactFactory(email="sub@example.com")
    SubscriptionFactory(contact=subscribed, topic=topic)
    unsubscribed = ContactFactory(email="unsub@example.com")
    SubscriptionFactory(contact=unsubscribed, topic=topic, status="unsubscribed")
    suppressed_marketing = ContactFactory(email="optout@example.com")
    SubscriptionFactory(contact=suppressed_marketing, topic=other_topic, status="unsubscribed")
    Suppression.objects.create(
        address_hash=suppressed_marketing.address_hash, reason="unsubscribed_all", scope="marketing"
    )
    bounced = ContactFactory(email="bounced@example.com")
    SubscriptionFactory(contact=bounced, topic=topic)
    Suppression.objects.create(address_hash=bounced.address_hash, reason="hard_bounce", scope="all")
    ContactFactory(email="never-subscribed@example.com")
    return subscribed


def test_it_notifies_every_contact_with_any_subscription(
    audience, settings, send_queued_transactional, django_capture_on_commit_callbacks
):
    settings.POLICY_NOTICE_CHUNK_SIZE = 2
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        policy = policy_publish(
            version="2", effective_at=in_days(31), is_material=True, summary="We now use X."
        )
    assert len(callbacks) == 1  # the fan-out task is queued after commit
    assert send_policy_notices(policy.pk) == 3
    recipients = sorted(TransactionalMessage.objects.values_list("to_email", flat=True))
    assert recipients == ["optout@example.com", "sub@example.com", "unsub@example.com"]
    outbox = send_queued_transactional()
    assert len(outbox) == 3
    for message in outbox:
        assert "List-Unsubscribe" not in message.extra_headers
        assert "List-Unsubscribe" not in message.message().as_string()
        assert "We now use X." in message.body
        assert "/preferences/" in message.body
    policy.refresh_from_db()
    assert policy.notices_sent == 3 and policy.notices_finished_at is not None
    assert send_policy_notices(policy.pk) == 0  # a repeated task sends nothing twice


def test_it_resumes_notices_after_the_cursor(audience, settings):
    policy = PolicyVersion.objects.create(version="3", effective_at=in_days(31), is_material=True)
    PolicyVersion.objects.filter(pk=policy.pk).update(notice_cursor=audience.pk)
    assert policy_send_notices(policy=policy) == 2
    assert not TransactionalMessage.objects.filter(to_email="sub@example.com").exists()


def test_it_shows_the_upcoming_change_on_the_preference_page(client, subscribed_alice):
    PolicyVersion.objects.create(
        version="2030", effective_at=in_days(45), is_material=True, summary="New processor."
    )
    page = client.get(f"/preferences/{tokens.preferences_token(subscribed_alice)}/")
    html = page.content.decode()
    assert "Our privacy policy is changing" in html and "New processor." in html


def test_it_hides_changes_already_in_force(client, subscribed_alice):
    PolicyVersion.objects.create(version="old", effective_at=in_days(-1), is_material=True)
    page = client.get(f"/preferences/{tokens.preferences_token(subscribed_alice)}/")
    assert "Our privacy policy is changing" not in page.content.decode()


def test_it_publishes_from_the_admin(admin_client, settings):
    settings.POLICY_NOTICE_MIN_DAYS = 30
    url = "/admin/subscriptions/policyversion/add/"
    soon = timezone.localtime(in_days(5))
    data = {
        "version": "4",
        "effective_at_0": soon.strftime("%Y-%m-%d"),
        "effective_at_1": soon.strftime("%H:%M:%S"),
        "is_material": "on",
        "summary": "s",
    }
    refused = admin_client.post(url, data)
    assert refused.status_code == 200 and b"at least 30" in refused.content
    assert not PolicyVersion.objects.exists()
    later = timezone.localtime(in_days(40))
    data.update(
        effective_at_0=later.strftime("%Y-%m-%d"), effective_at_1=later.strftime("%H:%M:%S")
    )
    assert admin_client.post(url, data).status_code == 302
    assert PolicyVersion.objects.get().version == "4"
