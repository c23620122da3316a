"""Campaigns through Postmark's batch API: Anymail's Postmark backend against a local fake of
Postmark's HTTP API (tests/fakes/postmark.py), outcomes per message, faults per call."""

from __future__ import annotations

import socket
import time
import urllib.request

import pytest

from subscriptions.campaigns import sending, transport
from subscriptions.campaigns.audience import campaign_build_audience
from subscriptions.campaigns.stats import campaign_stats
from subscriptions.models import Delivery
from tests.sending_factories import subscribers


def fault(server, **query) -> None:
    port = server.server_address[1]
    args = "&".join(f"{k}={v}" for k, v in query.items())
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/_fault?{args}", b""))


def endpoints(server) -> list[str]:
    server.RequestHandlerClass.recorder.stats()  # flushes the log
    lines = server.RequestHandlerClass.recorder.path.read_text().splitlines()
    return [line.split("\t")[1] for line in lines]


def test_it_sends_distinct_messages_in_one_batch_call(
    campaign, topic, postmark, fake_postmark, settings
):
    people = subscribers(topic, 3, attributes={"first_name": "Ann"})
    people += subscribers(topic, 1, attributes={"first_name": "Bea"})
    campaign_build_audience(campaign=campaign)

    result = sending.send_batch(campaign=campaign)

    assert (result.sent, result.failed) == (4, 0)
    assert endpoints(fake_postmark) == ["email/batch"] * 4
    # Every recipient exactly once (addresses compared as a whole: factory numbers may cross 99).
    assert sorted(m["To"] for m in postmark) == sorted(p.email for p in people)
    unsubscribe_links = set()
    for message in postmark:
        headers = {h["Name"]: h["Value"] for h in message["Headers"]}
        link = headers["List-Unsubscribe"].strip("<>")
        assert link in message["TextBody"] and link in message["HtmlBody"]
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert headers["List-Id"] == f"<{topic.slug}.{settings.LIST_ID_DOMAIN}>"
        assert message["MessageStream"] == "broadcast"
        assert message["Tag"] == f"campaign-{campaign.pk}"
        assert message["Metadata"]["campaign_id"] == str(campaign.pk)
        unsubscribe_links.add(link)
    assert len(unsubscribe_links) == 4
    assert sorted(m["Subject"] for m in postmark) == ["News for Ann"] * 3 + ["News for Bea"]
    # Each delivery carries the id Postmark gave its own message.
    ids = dict(Delivery.objects.values_list("pk", "esp_message_id"))
    assert len(set(ids.values())) == 4
    for message in postmark:
        assert ids[int(message["Metadata"]["delivery_id"])]


def test_it_splits_a_batch_at_the_esp_s_limit(
    campaign, topic, postmark, fake_postmark, monkeypatch
):
    monkeypatch.setattr(transport.PostmarkBatch, "capacity", 2)
    subscribers(topic, 5)
    campaign_build_audience(campaign=campaign)

    sending.send_until_done(campaign=campaign)

    assert len(postmark) == 5
    stats = fake_postmark.RequestHandlerClass.recorder.stats()
    assert stats["requests"] == 3  # 2 + 2 + 1
    assert stats["by_endpoint"] == {"email/batch": 5}
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_it_records_a_message_postmark_refused_and_sends_the_others(campaign, topic, postmark):
    fine = subscribers(topic, 2)
    subscribers(topic, 1, email="inactive@example.com")
    campaign_build_audience(campaign=campaign)

    result = sending.send_until_done(campaign=campaign)

    assert (result.sent, result.failed) == (2, 1)
    refused = Delivery.objects.get(status="failed")
    assert refused.contact.email == "inactive@example.com"
    assert "406" in refused.error and "inactive" in refused.error
    assert {d.contact.email for d in Delivery.objects.filter(status="sent")} == {
        p.email for p in fine
    }


@pytest.mark.parametrize("status", [429, 500, 503])
def test_it_gives_the_claims_back_when_postmark_asks_to_retry(
    campaign, topic, postmark, fake_postmark, status
):
    subscribers(topic, 3)
    campaign_build_audience(campaign=campaign)
    fault(fake_postmark, status=status)

    with pytest.raises(sending.SendingUnavailable):
        sending.send_batch(campaign=campaign)

    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}
    assert sending.send_batch(campaign=campaign).sent == 3  # the retry sends them, once


def test_it_gives_the_claims_back_when_postmark_cannot_be_reached(campaign, topic, settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    settings.MARKETING_EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "POSTMARK_SERVER_TOKEN": "test-token",
        "POSTMARK_API_URL": f"http://127.0.0.1:{closed_port}/",
    }
    subscribers(topic, 2)
    campaign_build_audience(campaign=campaign)

    with pytest.raises(sending.SendingUnavailable):
        sending.send_batch(campaign=campaign)

    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}


def test_it_never_resends_a_batch_whose_answer_was_lost(campaign, topic, postmark, fake_postmark):
    subscribers(topic, 3)
    campaign_build_audience(campaign=campaign)
    fault(fake_postmark, delay=1.5)  # longer than the client's 1 s timeout

    with pytest.raises(sending.SendingUnavailable, match="unknown outcome"):
        sending.send_batch(campaign=campaign, size=2)
    sending.send_until_done(campaign=campaign)

    stats = campaign_stats(campaign)
    assert (stats["outcome_unknown"], stats["sent"], stats["pending"]) == (2, 1, 0)
    assert sending.send_until_done(campaign=campaign).sent == 0


def test_it_refuses_every_message_of_a_batch_postmark_rejected_whole(
    campaign, topic, postmark, settings
):
    settings.ANYMAIL = {**settings.ANYMAIL, "POSTMARK_SERVER_TOKEN": ""}
    subscribers(topic, 2)
    campaign_build_audience(campaign=campaign)

    result = sending.send_batch(campaign=campaign)

    assert (result.sent, result.failed) == (0, 2)
    assert all("401" in e for e in Delivery.objects.values_list("error", flat=True))
    assert postmark == []


def test_it_picks_the_batch_call_only_where_the_backend_has_one(settings):
    with transport.open_sender(settings.MARKETING_EMAIL_BACKEND, 3) as sender:
        assert isinstance(sender, transport.Parallel)
        assert sender.capacity == 3
    settings.ANYMAIL = {**settings.ANYMAIL, "POSTMARK_SERVER_TOKEN": "t"}
    with transport.open_sender("anymail.backends.postmark.EmailBackend", 3) as sender:
        assert isinstance(sender, transport.PostmarkBatch)
        assert sender.capacity == 500


def test_it_keeps_batch_calls_within_the_send_rate(
    campaign, topic, postmark, fake_postmark, settings
):
    settings.MARKETING_SEND_RATE = 2  # a window of one second admits two messages
    subscribers(topic, 5)
    campaign_build_audience(campaign=campaign)

    started = time.monotonic()
    assert sending.send_until_done(campaign=campaign).sent == 5

    assert fake_postmark.RequestHandlerClass.recorder.stats()["requests"] == 3  # 2 + 2 + 1
    assert time.monotonic() - started >= 1.0  # three calls span at least two windows


def test_it_knows_which_backends_have_a_batch_api():
    assert transport.has_batch_api("anymail.backends.postmark.EmailBackend")
    assert not transport.has_batch_api("django.core.mail.backends.smtp.EmailBackend")
    assert not transport.has_batch_api("anymail.backends.test.EmailBackend")
