from __future__ import annotations

import collections
import datetime
import time
from typing import ClassVar

import pytest
from django.db import connection
from django.utils import timezone

from subscriptions.campaigns import audience as audience_module
from subscriptions.campaigns import sending
from subscriptions.campaigns import tasks as marketing
from subscriptions.campaigns.audience import campaign_build_audience
from subscriptions.campaigns.claims import (
    claim_batch,
    claims_recover,
    mark_in_flight,
    release_claims,
)
from subscriptions.campaigns.lifecycle import (
    CampaignStateError,
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_schedule,
    campaign_start,
    due_campaigns,
)
from subscriptions.campaigns.messages import InvalidCampaignTemplate
from subscriptions.campaigns.outcomes import record_failed, record_sent
from subscriptions.campaigns.stats import campaign_stats
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import contact_unsubscribe_all, subscription_unsubscribe
from subscriptions.models import Delivery
from subscriptions.models.choices import CampaignStatus, DeliveryStatus, SkipReason
from tests.sending_factories import CampaignFactory, subscribers

ACTOR = Actor(source="unsubscribe_link", actor="test")


def statuses(campaign) -> dict[str, str]:
    return {
        d.contact.email: (d.status, d.reason)
        for d in Delivery.objects.filter(campaign=campaign).select_related("contact")
    }


def test_it_builds_exactly_the_marketable_audience(campaign, audience):
    added = campaign_build_audience(campaign=campaign)

    emails = set(
        Delivery.objects.filter(campaign=campaign).values_list("contact__email", flat=True)
    )
    assert emails == {audience["ann"].email, audience["bob"].email}
    assert added == 2


def test_it_builds_the_audience_idempotently(campaign, audience, topic):
    campaign_build_audience(campaign=campaign)
    assert campaign_build_audience(campaign=campaign) == 0
    newcomer = subscribers(topic, 1)[0]

    assert campaign_build_audience(campaign=campaign) == 1
    assert Delivery.objects.filter(campaign=campaign, contact=newcomer).count() == 1
    assert Delivery.objects.filter(campaign=campaign).count() == 3


@pytest.mark.django_db(transaction=True)
def test_it_builds_a_large_audience_over_several_connections(
    topic, audience, settings, monkeypatch
):
    monkeypatch.setattr(
        audience_module, "AUDIENCE_SPLIT_MIN_IDS", 0
    )  # "large" from the first contact
    settings.AUDIENCE_BUILD_CONNECTIONS = 3
    more = subscribers(topic, 10)
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENDING)
    expected = {audience["ann"].email, audience["bob"].email, *(c.email for c in more)}

    assert campaign_build_audience(campaign=campaign) == 12
    assert campaign_build_audience(campaign=campaign) == 0
    emails = Delivery.objects.filter(campaign=campaign).values_list("contact__email", flat=True)
    assert sorted(emails) == sorted(expected)


def test_it_sends_once_to_each_marketable_contact(campaign, audience, outbox):
    campaign_build_audience(campaign=campaign)
    result = sending.send_until_done(campaign=campaign)
    sending.send_until_done(campaign=campaign)  # a retry or a second worker: nothing more

    assert sorted(m.to[0] for m in outbox) == sorted([audience["ann"].email, audience["bob"].email])
    assert result.sent == 2
    ann = next(m for m in outbox if m.to == [audience["ann"].email])
    assert ann.subject == "News for Ann"
    assert "Hello Ann" in ann.body
    assert ann.anymail_test_params["metadata"]["campaign_id"] == str(campaign.pk)
    delivery = Delivery.objects.get(campaign=campaign, contact=audience["ann"])
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.esp_message_id != ""
    assert delivery.sent_at is not None
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


def test_it_skips_contacts_who_opted_out_after_the_audience_was_built(campaign, topic, outbox):
    unsub, paused, suppressed, keeps = subscribers(topic, 4)
    campaign_build_audience(campaign=campaign)
    subscription_unsubscribe(contact=unsub, topic=topic, by=ACTOR)
    contact_unsubscribe_all(contact=suppressed, by=ACTOR)
    paused.subscriptions.update(paused_until=timezone.now() + datetime.timedelta(days=1))

    sending.send_until_done(campaign=campaign)

    assert [m.to[0] for m in outbox] == [keeps.email]
    got = statuses(campaign)
    assert got[unsub.email] == ("skipped", "unsubscribed")
    assert got[paused.email] == ("skipped", "paused")
    assert got[suppressed.email] == ("skipped", "suppressed")
    stats = campaign_stats(campaign)
    assert stats["skipped_by_reason"] == {"unsubscribed": 1, "paused": 1, "suppressed": 1}
    assert stats["sent"] == 1
    assert stats["audience"] == 4


class UnsubscribingBackend:
    """A marketing backend under which the first recipient's 'click' lands mid-batch."""

    victim = None

    def __init__(self, *args, **kwargs):
        from anymail.backends.test import EmailBackend

        self.inner = EmailBackend(*args, **kwargs)

    def open(self):
        return self.inner.open()

    def close(self):
        return self.inner.close()

    def send_messages(self, messages):
        if self.victim is not None:
            contact, topic = self.victim
            subscription_unsubscribe(contact=contact, topic=topic, by=ACTOR)
            UnsubscribingBackend.victim = None
        return self.inner.send_messages(messages)


def test_it_rechecks_marketability_between_send_calls(campaign, topic, outbox, settings):
    first, second, third = subscribers(topic, 3)
    settings.MARKETING_EMAIL_BACKEND = "tests.campaigns.test_sending.UnsubscribingBackend"
    settings.SEND_RECHECK_SECONDS = 0  # re-check before every single send call
    settings.SEND_CONNECTIONS = 1  # one message per send call
    UnsubscribingBackend.victim = (third, topic)
    campaign_build_audience(campaign=campaign)

    sending.send_until_done(campaign=campaign)

    assert sorted(m.to[0] for m in outbox) == sorted([first.email, second.email])
    assert statuses(campaign)[third.email] == ("skipped", "unsubscribed")


class RefusingBackend(UnsubscribingBackend):
    refuse = "refused@example.com"

    def send_messages(self, messages):
        from anymail.exceptions import AnymailAPIError

        if messages[0].to == [self.refuse]:
            raise AnymailAPIError("ESP said no")
        return self.inner.send_messages(messages)


def test_it_records_a_refused_message_as_failed_and_goes_on(campaign, topic, outbox, settings):
    settings.MARKETING_EMAIL_BACKEND = "tests.campaigns.test_sending.RefusingBackend"
    subscribers(topic, 1, email="refused@example.com")
    fine = subscribers(topic, 1)[0]
    campaign_build_audience(campaign=campaign)

    result = sending.send_until_done(campaign=campaign)

    assert result.failed == 1
    assert [m.to[0] for m in outbox] == [fine.email]
    failed = Delivery.objects.get(campaign=campaign, status="failed")
    assert "ESP said no" in failed.error
    assert campaign_stats(campaign)["failed"] == 1


class CountingBackend(UnsubscribingBackend):
    senders: ClassVar[list[int]] = []

    def send_messages(self, messages):
        self.senders.append(id(self))
        return self.inner.send_messages(messages)


def test_it_sends_over_several_connections_at_once(campaign, topic, outbox, settings):
    settings.MARKETING_EMAIL_BACKEND = "tests.campaigns.test_sending.CountingBackend"
    settings.SEND_CONNECTIONS = 3
    CountingBackend.senders = []
    subscribers(topic, 6)
    campaign_build_audience(campaign=campaign)

    assert sending.send_batch(campaign=campaign).sent == 6

    assert len(outbox) == 6
    assert sorted(collections.Counter(CountingBackend.senders).values()) == [2, 2, 2]


class DownBackend(UnsubscribingBackend):
    def open(self):
        raise ConnectionRefusedError("smtp down")


def test_it_releases_the_claims_when_the_transport_is_down(campaign, topic, settings):
    settings.MARKETING_EMAIL_BACKEND = "tests.campaigns.test_sending.DownBackend"
    subscribers(topic, 2)
    campaign_build_audience(campaign=campaign)

    with pytest.raises(sending.SendingUnavailable):
        sending.send_batch(campaign=campaign)

    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}


def test_it_never_resends_a_stale_claim(campaign, topic, outbox):
    subscribers(topic, 3)
    campaign_build_audience(campaign=campaign)
    claimed = claim_batch(campaign=campaign, size=2)
    mark_in_flight(claimed)  # handed to the transport, then the worker is killed
    Delivery.objects.filter(pk__in=[d.pk for d in claimed]).update(
        claimed_by="elsewhere:1:dead", lease_until=timezone.now() - datetime.timedelta(seconds=1)
    )

    recovered = claims_recover()
    sending.send_until_done(campaign=campaign)

    assert recovered == {campaign.pk}
    assert len(outbox) == 1
    stats = campaign_stats(campaign)
    assert stats["failed"] == 2
    assert stats["outcome_unknown"] == 2
    assert stats["sent"] == 1


def test_it_sends_a_lapsed_claim_that_was_never_in_flight(campaign, topic, outbox):
    contacts = subscribers(topic, 3)
    campaign_build_audience(campaign=campaign)
    claimed = claim_batch(campaign=campaign, size=2)  # then the worker is killed before sending
    Delivery.objects.filter(pk__in=[d.pk for d in claimed]).update(
        claimed_by="elsewhere:1:dead", lease_until=timezone.now() - datetime.timedelta(seconds=1)
    )

    assert claims_recover() == {campaign.pk}
    sending.send_until_done(campaign=campaign)

    assert sorted(m.to[0] for m in outbox) == sorted(c.email for c in contacts)
    stats = campaign_stats(campaign)
    assert (stats["sent"], stats["failed"], stats["claimed"]) == (3, 0, 0)
    campaign.refresh_from_db()
    assert campaign.status == "sent"


def test_it_recovers_the_claims_of_a_dead_holder_before_its_lease_lapses(campaign, topic):
    subscribers(topic, 3)
    campaign_build_audience(campaign=campaign)
    first, second = claim_batch(campaign=campaign, size=2)
    mark_in_flight([first])
    Delivery.objects.filter(pk__in=[first.pk, second.pk]).update(claimed_by="gone:99:x")

    assert claims_recover(holders=["gone:99:x"], lapsed=False) == {campaign.pk}

    rows = dict(Delivery.objects.filter(campaign=campaign).values_list("pk", "status"))
    assert (rows[first.pk], rows[second.pk]) == ("failed", "pending")


def test_it_keeps_fresh_claims_when_recovering(campaign, topic):
    subscribers(topic, 2)
    campaign_build_audience(campaign=campaign)
    claim_batch(campaign=campaign, size=2)

    assert claims_recover() == set()


def test_it_never_sends_a_claim_recovered_from_under_a_slow_worker(campaign, topic):
    subscribers(topic, 2)
    campaign_build_audience(campaign=campaign)
    first, second = claim_batch(campaign=campaign, size=2)
    # Its lease lapsed while it hung: the second went back to pending and was claimed anew.
    Delivery.objects.filter(pk=second.pk).update(claimed_by="other:2:y")

    assert mark_in_flight([first, second]) == [first]


def test_it_does_not_claim_what_another_worker_claimed(campaign, topic):
    subscribers(topic, 5)
    campaign_build_audience(campaign=campaign)

    first = claim_batch(campaign=campaign, size=3)
    second = claim_batch(campaign=campaign, size=3)

    assert len(first) == 3
    assert len(second) == 2
    assert not {d.pk for d in first} & {d.pk for d in second}


# One message per connection per send call through the test backend (SEND_CONNECTIONS at once);
# 500 per call through Postmark's batch API. Beyond a fixed number, one statement per send call:
# the one marking the call's deliveries in flight (rule 4), never one per message.
@pytest.mark.parametrize(("transport", "most"), [("outbox", 14), ("postmark", 12)])
def test_it_sends_a_batch_in_a_number_of_queries_independent_of_its_size(
    campaign, topic, transport, most, request, django_assert_max_num_queries, settings
):
    request.getfixturevalue(transport)
    subscribers(topic, 60)
    campaign_build_audience(campaign=campaign)
    per_call = settings.SEND_CONNECTIONS if transport == "outbox" else 500

    def calls(size: int) -> int:
        return -(-size // per_call)

    with django_assert_max_num_queries(most + calls(5)):
        small = sending.send_batch(campaign=campaign, size=5)
    with django_assert_max_num_queries(most + calls(55)):
        large = sending.send_batch(campaign=campaign, size=55)

    assert (small.sent, large.sent) == (5, 55)


@pytest.mark.parametrize("transport", ["outbox", "postmark"])
def test_it_fails_a_message_that_cannot_render_and_sends_the_others(topic, transport, request):
    sent = request.getfixturevalue(transport)
    campaign = CampaignFactory(
        topic=topic,
        status=CampaignStatus.SENDING,
        text_body="{{ contact.attributes.n|divisibleby:contact.attributes.d }}",
    )
    subscribers(topic, 1, email="zero@example.com", attributes={"n": 4, "d": 0})
    subscribers(topic, 2, attributes={"n": 4, "d": 2})
    campaign_build_audience(campaign=campaign)

    result = sending.send_until_done(campaign=campaign)

    assert (result.sent, result.failed) == (2, 1)
    broken = Delivery.objects.get(status="failed")
    assert broken.contact.email == "zero@example.com"
    assert "could not render: ZeroDivisionError" in broken.error
    assert "zero@example.com" not in [m["To"] if isinstance(m, dict) else m.to[0] for m in sent]
    assert len(sent) == 2


def test_it_stops_and_releases_claims_when_paused(campaign, topic, outbox):
    subscribers(topic, 3)
    campaign_build_audience(campaign=campaign)
    campaign_pause(campaign=campaign)

    result = sending.send_batch(campaign=campaign)

    assert result.stopped
    assert outbox == []
    assert campaign_stats(campaign)["pending"] == 3
    campaign_resume(campaign=campaign, enqueue=False)
    sending.send_until_done(campaign=campaign)
    assert len(outbox) == 3


def test_it_skips_what_is_pending_when_cancelled(campaign, topic, outbox):
    subscribers(topic, 3)
    campaign_build_audience(campaign=campaign)

    campaign_cancel(campaign=campaign)
    sending.send_until_done(campaign=campaign)

    assert outbox == []
    assert campaign_stats(campaign)["skipped_by_reason"] == {"cancelled": 3}
    with pytest.raises(CampaignStateError):
        campaign_resume(campaign=campaign, enqueue=False)


def test_it_refuses_to_start_a_campaign_whose_template_is_broken(topic):
    broken = CampaignFactory(topic=topic, html_body="<p>{% if %}</p>")

    with pytest.raises(InvalidCampaignTemplate, match="HTML body"):
        campaign_start(campaign=broken, enqueue=False)
    broken.refresh_from_db()
    assert broken.status == CampaignStatus.DRAFT


def test_it_starts_a_campaign_only_once(topic):
    draft = CampaignFactory(topic=topic)

    campaign_start(campaign=draft, enqueue=False)
    with pytest.raises(CampaignStateError):
        campaign_start(campaign=draft, enqueue=False)
    assert draft.status == CampaignStatus.SENDING


def test_it_throttles_across_callers():
    key = f"test-throttle-{time.time()}"
    started = time.monotonic()
    # 45 messages at 20/s need three one-second windows, so they span more than one second.
    waited = sum(sending.throttle(1, rate=20, key=key) for _ in range(45))

    assert time.monotonic() - started >= 1.0
    assert waited > 0.5


def test_it_does_not_throttle_when_unlimited():
    assert sending.throttle(1000, rate=0) == 0.0


def test_it_runs_the_batch_task_and_requeues_while_work_remains(
    campaign, topic, outbox, settings, monkeypatch
):
    settings.SEND_BATCH_SIZE = 2
    settings.SEND_MAX_BATCHES_PER_TASK = 1
    requeued = []
    monkeypatch.setattr(marketing.send_batches, "delay", requeued.append)
    subscribers(topic, 3)
    campaign_build_audience(campaign=campaign)

    outcome = marketing.send_batches(campaign.pk)

    assert outcome["sent"] == 2
    assert requeued == [campaign.pk]
    marketing.send_batches(campaign.pk)
    assert len(outbox) == 3


def test_it_builds_the_audience_and_fans_out_in_the_start_task(
    campaign, audience, settings, monkeypatch
):
    settings.SEND_FANOUT = 3
    queued = []
    monkeypatch.setattr(marketing.send_batches, "delay", queued.append)

    assert marketing.start_campaign(campaign.pk) == 2
    assert queued == [campaign.pk] * 3


def test_it_starts_due_campaigns_and_revives_stalled_ones_in_the_sweep(
    topic, settings, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(marketing.send_batches, "delay", queued.append)
    monkeypatch.setattr(marketing.start_campaign, "delay", queued.append)
    due = CampaignFactory(
        topic=topic, status="scheduled", scheduled_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    later = CampaignFactory(
        topic=topic, status="scheduled", scheduled_at=timezone.now() + datetime.timedelta(hours=1)
    )
    stalled = CampaignFactory(
        topic=topic, status="sending", started_at=timezone.now() - datetime.timedelta(hours=1)
    )
    subscribers(topic, 1)
    campaign_build_audience(campaign=stalled)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = marketing.sweep_campaigns()

    assert outcome["started"] == 1
    due.refresh_from_db()
    later.refresh_from_db()
    assert (due.status, later.status) == ("sending", "scheduled")
    assert due.pk in queued
    assert queued.count(stalled.pk) == 1  # start_campaign: completes the audience, fans out


def test_it_counts_a_campaign_s_progress(campaign, topic):
    subscribers(topic, 2)
    campaign_build_audience(campaign=campaign)

    stats = campaign_stats(campaign)

    assert stats["audience"] == 2
    assert stats["pending"] == 2
    for key in ("sent", "skipped", "failed", "bounced", "complained", "unsubscribed"):
        assert stats[key] == 0


def test_it_skips_the_claims_a_worker_gives_back_after_a_cancel(campaign, topic, outbox):
    subscribers(topic, 3)
    campaign_build_audience(campaign=campaign)
    claimed = claim_batch(campaign=campaign, size=2)
    campaign_cancel(campaign=campaign)

    release_claims(claimed)

    assert campaign_stats(campaign)["skipped_by_reason"] == {"cancelled": 3}


def test_it_sends_a_campaign_from_the_command_line(topic, audience, outbox):
    from io import StringIO

    from django.core.management import call_command

    draft = CampaignFactory(topic=topic)
    out = StringIO()

    call_command("send_campaign", str(draft.pk), stdout=out, stderr=StringIO())

    assert sorted(m.to[0] for m in outbox) == sorted([audience["ann"].email, audience["bob"].email])
    assert f"Campaign {draft.pk} sent: sent 2, skipped 0, failed 0" in out.getvalue()


def test_it_refuses_to_send_an_unknown_campaign_from_the_command_line(db):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="No campaign"):
        call_command("send_campaign", "999999")


class InterruptedBackend(UnsubscribingBackend):
    calls = 0

    def send_messages(self, messages):
        from celery.exceptions import SoftTimeLimitExceeded

        InterruptedBackend.calls += 1
        if InterruptedBackend.calls == 2:
            raise SoftTimeLimitExceeded()
        return self.inner.send_messages(messages)


def test_it_records_what_went_when_the_task_is_interrupted(campaign, topic, outbox, settings):
    from celery.exceptions import SoftTimeLimitExceeded

    settings.MARKETING_EMAIL_BACKEND = "tests.campaigns.test_sending.InterruptedBackend"
    settings.SEND_CONNECTIONS = 1
    InterruptedBackend.calls = 0
    subscribers(topic, 4)
    campaign_build_audience(campaign=campaign)

    with pytest.raises(SoftTimeLimitExceeded):
        sending.send_batch(campaign=campaign)

    stats = campaign_stats(campaign)
    assert (stats["sent"], stats["claimed"], stats["pending"]) == (1, 1, 3)
    assert len(outbox) == 1


def test_it_goes_on_after_a_batch_that_was_all_skipped(campaign, topic, outbox):
    gone = subscribers(topic, 2)
    stays = subscribers(topic, 1)[0]
    campaign_build_audience(campaign=campaign)
    for contact in gone:
        subscription_unsubscribe(contact=contact, topic=topic, by=ACTOR)

    result = sending.send_until_done(campaign=campaign, size=2)

    assert [m.to[0] for m in outbox] == [stays.email]
    assert (result.claimed, result.skipped, result.sent) == (3, 2, 1)


def test_it_restarts_a_campaign_whose_start_task_was_lost(topic, settings, monkeypatch):
    queued = []
    monkeypatch.setattr(marketing.start_campaign, "delay", queued.append)
    monkeypatch.setattr(marketing.send_batches, "delay", queued.append)
    lost = CampaignFactory(
        topic=topic, status="sending", started_at=timezone.now() - datetime.timedelta(hours=1)
    )

    marketing.sweep_campaigns()

    assert queued == [lost.pk]


def test_it_schedules_a_campaign(topic):
    draft = CampaignFactory(topic=topic)
    at = timezone.now() + datetime.timedelta(days=1)

    campaign_schedule(campaign=draft, at=at)

    assert (draft.status, draft.scheduled_at) == ("scheduled", at)
    assert list(due_campaigns(at + datetime.timedelta(seconds=1))) == [draft]
    assert list(due_campaigns()) == []


@pytest.mark.parametrize("vendor", ["postgresql", "portable"])
def test_it_records_each_outcome_once_and_only_on_a_claimed_delivery(
    campaign, topic, vendor, monkeypatch
):
    if vendor == "portable":  # the CASE fallback `make run` uses on SQLite
        monkeypatch.setattr(connection, "vendor", "sqlite")
    subscribers(topic, 3)
    campaign_build_audience(campaign=campaign)
    first, second, third = claim_batch(campaign=campaign, size=3)
    # The third's claim went stale and was recovered before its worker reported.
    Delivery.objects.filter(pk=third.pk).update(
        status=DeliveryStatus.FAILED, reason=SkipReason.OUTCOME_UNKNOWN
    )

    record_sent([(first, "esp-1"), (third, "esp-3")])
    record_failed([(second, "refused"), (first, "late refusal")])

    rows = {d.pk: d for d in Delivery.objects.filter(campaign=campaign)}
    assert (rows[first.pk].status, rows[first.pk].esp_message_id) == ("sent", "esp-1")
    assert rows[first.pk].sent_at is not None
    assert (rows[second.pk].status, rows[second.pk].error) == ("failed", "refused")
    assert (rows[third.pk].status, rows[third.pk].reason) == ("failed", "outcome_unknown")
    assert rows[third.pk].esp_message_id == ""


def test_it_gives_back_what_it_was_rendering_when_the_task_is_interrupted(
    campaign, topic, outbox, monkeypatch
):
    from celery.exceptions import SoftTimeLimitExceeded

    render = sending.render_marketing_message
    calls = []

    def render_until_time_is_up(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise SoftTimeLimitExceeded()
        return render(**kwargs)

    monkeypatch.setattr(sending, "render_marketing_message", render_until_time_is_up)
    subscribers(topic, 6)
    campaign_build_audience(campaign=campaign)

    with pytest.raises(SoftTimeLimitExceeded):
        sending.send_batch(campaign=campaign)

    stats = campaign_stats(campaign)
    assert (stats["sent"], stats["claimed"], stats["pending"], stats["failed"]) == (0, 0, 6, 0)
    assert outbox == []


@pytest.mark.django_db(transaction=True)
def test_it_sends_on_several_loops_at_once_without_overlap(topic, outbox, settings):
    settings.SEND_BATCH_SIZE = 4
    people = subscribers(topic, 30)
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENDING)
    campaign_build_audience(campaign=campaign)

    result = sending.send_until_done_concurrently(campaign=campaign, loops=3)

    assert result.sent == 30
    assert sorted(m.to[0] for m in outbox) == sorted(p.email for p in people)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


@pytest.mark.django_db(transaction=True)
def test_it_stops_every_loop_when_one_fails(topic, settings):
    settings.MARKETING_EMAIL_BACKEND = "tests.campaigns.test_sending.DownBackend"
    subscribers(topic, 12)
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENDING)
    campaign_build_audience(campaign=campaign)

    with pytest.raises(sending.SendingUnavailable):
        sending.send_until_done_concurrently(campaign=campaign, loops=2)

    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}
