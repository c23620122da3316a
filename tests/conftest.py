from __future__ import annotations

import pytest
from django.core import mail

from subscriptions.consent.ledger import Actor
from subscriptions.mail.transactional import deliver
from subscriptions.models import TransactionalMessage

from .factories import ContactFactory, SubscriptionFactory, TopicFactory


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


# The test database runs as production does: an owner migrates it, the tests use the app role.
from .database_fixtures import (  # noqa: E402, F401
    django_db_modify_db_settings,
    django_db_setup,
    owner,
)
