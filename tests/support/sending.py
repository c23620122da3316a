"""Fixtures for the sending tests: campaigns and an audience of personas."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.core import mail
from django.utils import timezone

from subscriptions.addresses import address_hash
from subscriptions.models import Suppression
from subscriptions.models.choices import CampaignStatus
from tests.factories import ContactFactory, SubscriptionFactory
from tests.fakes.postmark import serve
from tests.sending_factories import CampaignFactory, subscribers


@pytest.fixture
def campaign(topic):
    return CampaignFactory(topic=topic, status=CampaignStatus.SENDING, started_at=timezone.now())


@pytest.fixture
def outbox():
    mail.outbox = []
    return mail.outbox


@pytest.fixture
def audience(topic):
    """Who is and who is not marketable on `topic`, by name."""
    people = {
        "ann": subscribers(topic, 1, attributes={"first_name": "Ann"})[0],
        "bob": subscribers(topic, 1)[0],
        "unsubscribed": ContactFactory(),
        "paused": ContactFactory(),
        "suppressed": subscribers(topic, 1)[0],
        "minor": subscribers(
            topic, 1, birth_date=timezone.localdate() - datetime.timedelta(days=365 * 10)
        )[0],
        "erased": subscribers(topic, 1, erased_at=timezone.now())[0],
        "stranger": ContactFactory(),
    }
    SubscriptionFactory(contact=people["unsubscribed"], topic=topic, status="unsubscribed")
    SubscriptionFactory(
        contact=people["paused"],
        topic=topic,
        paused_until=timezone.now() + datetime.timedelta(days=3),
    )
    Suppression.objects.create(
        address_hash=address_hash(people["suppressed"].email), reason="complaint", scope="marketing"
    )
    return people


@pytest.fixture
def fake_postmark(tmp_path):
    """tests/fakes/postmark.py's local fake of Postmark's HTTP API, on a loopback port."""
    server = serve(0, tmp_path / "received.tsv")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.RequestHandlerClass.released.set()  # a held call must not outlive its test
    server.shutdown()
    server.server_close()


@pytest.fixture
def postmark(fake_postmark, settings):
    """The marketing stream goes to the fake Postmark; returns the messages it receives."""
    port = fake_postmark.server_address[1]
    settings.MARKETING_EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "POSTMARK_SERVER_TOKEN": "test-token",
        "POSTMARK_API_URL": f"http://127.0.0.1:{port}/",
        "POSTMARK_MESSAGE_STREAM": "broadcast",
        "REQUESTS_TIMEOUT": 1,
    }
    fake_postmark.RequestHandlerClass.capture = []
    return fake_postmark.RequestHandlerClass.capture
