from __future__ import annotations

import pytest
from django.core import mail

from subscriptions.consent.ledger import Actor
from subscriptions.mail.transactional import deliver
from subscriptions.models import TransactionalMessage
from tests.factories import ContactFactory, SubscriptionFactory, TopicFactory

# Fixtures every package's tests share, registered once for the whole session. The test database
# runs as production does: an owner migrates it, the tests use the app role (support/database.py).
pytest_plugins = [
    "tests.support.database",
    "tests.support.api",
    "tests.support.pages",
    "tests.support.sending",
    "tests.support.browser",
    "tests.support.smtp",
]


@pytest.fixture
def topic(db):
    return TopicFactory(slug="product-news", name="Product news")


@pytest.fixture
def other_topic(db):
    return TopicFactory(slug="weekly-digest", name="Weekly digest")


@pytest.fixture
def alice(db):
    return ContactFactory(email="alice@example.com")


@pytest.fixture
def subscribed_alice(alice, topic):
    SubscriptionFactory(contact=alice, topic=topic)
    return alice


@pytest.fixture
def actor():
    return Actor(source="api", actor="api:test")


@pytest.fixture
def send_queued_transactional(db):
    """Do what the transactional worker does: send every queued message, return the outbox."""

    def run():
        for pk in TransactionalMessage.objects.filter(status="queued").values_list("pk", flat=True):
            deliver(pk)
        return mail.outbox

    return run
