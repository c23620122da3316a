"""DESIGN rule 4 in unit tests: leases, recovery, finishing, and send tasks that wait out outages.

The end-to-end versions (killed workers, a restarted database) are in test_sending_*_e2e.py.
"""

from __future__ import annotations

import datetime
import socket
import subprocess
import sys

import pytest
from django.db import OperationalError
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisDown

from subscriptions.campaigns import claims, sending
from subscriptions.campaigns import tasks as marketing
from subscriptions.campaigns.audience import campaign_build_audience
from subscriptions.campaigns.claims import claim_batch, claims_renew, mark_in_flight, worker_id
from subscriptions.campaigns.stats import campaign_stats
from subscriptions.models import Delivery
from subscriptions.models.choices import CampaignStatus
from tests.sending_factories import CampaignFactory, subscribers


def dead_holder() -> str:
    """A claim holder of this host whose process has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return f"{socket.gethostname()}:{process.pid}:gone"


def hold(deliveries, holder: str, **fields) -> None:
    Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(claimed_by=holder, **fields)


def test_it_names_this_process_as_the_holder_of_its_claims(campaign, topic):
    subscribers(topic, 2)
    campaign_build_audience(campaign=campaign)

    claim_batch(campaign=campaign, size=2)

    rows = Delivery.objects.filter(campaign=campaign)
    assert set(rows.values_list("claimed_by", flat=True)) == {worker_id()}
    assert all(
        timezone.now() < lease <= timezone.now() + datetime.timedelta(claims.CLAIM_LEASE_SECONDS)
        for lease in rows.values_list("lease_until", flat=True)
    )


def test_it_renews_only_its_own_leases(campaign, topic):
    subscribers(topic, 2)
    campaign_build_audience(campaign=campaign)
    ours, theirs = claim_batch(campaign=campaign, size=2)
    past = timezone.now() - datetime.timedelta(seconds=5)
    Delivery.objects.filter(campaign=campaign).update(lease_until=past)
    hold([theirs], "elsewhere:1:alive")

    assert claims_renew() == 1

    leases = dict(Delivery.objects.values_list("pk", "lease_until"))
    assert leases[ours.pk] > timezone.now()
    assert leases[theirs.pk] == past


def test_it_tells_a_gone_holder_of_this_host_from_a_live_one():
    assert claims.holder_is_gone(dead_holder())
    assert not claims.holder_is_gone(worker_id())
    assert not claims.holder_is_gone(f"{socket.gethostname()}:1:init")  # pid 1 always lives
    assert not claims.holder_is_gone("another-host:12345:x")  # only its lease can tell


def test_it_takes_back_a_dead_workers_claims_at_worker_start(campaign, topic, monkeypatch):
    queued = []
    monkeypatch.setattr(marketing.send_batches, "delay", queued.append)
    monkeypatch.setattr(marketing, "start_heartbeat", lambda: None)
    subscribers(topic, 3)
    campaign_build_audience(campaign=campaign)
    in_flight, waiting = claim_batch(campaign=campaign, size=2)
    mark_in_flight([in_flight])
    # Killed a moment ago: its lease has not lapsed, but its process is gone.
    hold([in_flight, waiting], dead_holder())

    marketing._on_worker_ready()

    stats = campaign_stats(campaign)
    assert (stats["claimed"], stats["outcome_unknown"], stats["pending"]) == (0, 1, 2)
    assert queued and set(queued) == {campaign.pk}  # its senders, at once


def test_it_finishes_a_campaign_when_recovery_resolves_its_last_delivery(campaign, topic):
    subscribers(topic, 1)
    campaign_build_audience(campaign=campaign)
    lost = claim_batch(campaign=campaign, size=1)
    mark_in_flight(lost)
    hold(lost, "elsewhere:1:dead", lease_until=timezone.now() - datetime.timedelta(seconds=1))

    assert marketing.recover_claims() == {campaign.pk}

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert campaign_stats(campaign)["outcome_unknown"] == 1


def test_it_finishes_a_campaign_whose_last_batch_ends_a_task(campaign, topic, outbox):
    subscribers(topic, 4)
    campaign_build_audience(campaign=campaign)

    # Two batches, then the task's budget is spent: no sender ever finds the queue empty.
    result = sending.send_until_done(campaign=campaign, size=2, max_batches=2)

    assert result.sent == 4
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


def test_it_leaves_a_campaign_sending_while_another_worker_holds_claims(campaign, topic, outbox):
    subscribers(topic, 3)
    campaign_build_audience(campaign=campaign)
    held = claim_batch(campaign=campaign, size=1)
    hold(held, "elsewhere:1:alive")

    sending.send_until_done(campaign=campaign)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    assert len(outbox) == 2


@pytest.mark.parametrize(
    "error", [OperationalError("server closed"), BrokerError("no broker"), RedisDown("no cache")]
)
def test_it_waits_out_an_outage_giving_back_its_claims_first(
    campaign, topic, outbox, monkeypatch, error
):
    monkeypatch.setattr(marketing.time, "sleep", lambda s: None)
    monkeypatch.setattr(marketing.send_batches, "delay", lambda *a: None)
    subscribers(topic, 3)
    campaign_build_audience(campaign=campaign)
    real = marketing._send_batches
    seen = []

    def flaky(campaign_id):
        if not seen:
            # The outage hit mid-batch: one claim was not yet sent, one was in flight.
            unsent, in_flight = claim_batch(campaign=campaign, size=2)
            mark_in_flight([in_flight])
            seen.append((unsent, in_flight))
            raise error
        seen.append(campaign_stats(campaign))
        return real(campaign_id)

    monkeypatch.setattr(marketing, "_send_batches", flaky)

    result = marketing.send_batches.run(campaign.pk)

    assert seen[1]["claimed"] == 0  # given back before the retry: pending 2, unknown 1
    assert (seen[1]["pending"], seen[1]["outcome_unknown"]) == (2, 1)
    assert result["sent"] == 2
    assert len(outbox) == 2
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


def test_it_gives_up_an_outage_that_outlasts_its_patience(campaign, monkeypatch):
    monkeypatch.setattr(marketing.time, "sleep", lambda s: None)
    monkeypatch.setattr(marketing, "OUTAGE_PATIENCE_SECONDS", -1)

    def down(campaign_id):
        raise OperationalError("still down")

    monkeypatch.setattr(marketing, "_send_batches", down)

    with pytest.raises(OperationalError):
        marketing.send_batches.run(campaign.pk)


@pytest.mark.django_db(transaction=True)
def test_it_records_answers_that_came_while_the_database_was_away(topic, outbox, monkeypatch):
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENDING)
    subscribers(topic, 2)
    campaign_build_audience(campaign=campaign)
    monkeypatch.setattr(sending.time, "sleep", lambda s: None)
    record_sent = sending.record_sent
    failures = []

    def flaky(sent):
        if sent and not failures:
            failures.append(len(sent))
            raise OperationalError("the database restarts")
        record_sent(sent)

    monkeypatch.setattr(sending, "record_sent", flaky)

    result = sending.send_batch(campaign=campaign)

    assert failures == [2]
    assert result.sent == 2
    assert campaign_stats(campaign)["sent"] == 2  # not left in flight to become unknown
