"""Fixtures shared by the page tests."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from subscriptions.models import (
    ConsentEvent,
    Contact,
    LinkHit,
    Subscription,
    Suppression,
    TransactionalMessage,
)


@pytest.fixture
def fresh_rate_limits():
    # Rate-limit windows live in this test run's own cache database. Not autouse: a plugin's
    # autouse fixture would run for every test of the suite.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def bare_client():
    """A client like a mailbox provider's one-click POST: no cookie, no CSRF token."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def db_snapshot(db):
    """A function returning everything the pages could change, to compare before and after."""
    return db_state


def db_state() -> tuple:
    """Everything a page could change, to compare before and after."""
    return (
        ConsentEvent.objects.count(),
        tuple(Subscription.objects.order_by("pk").values_list("pk", "status", "frequency")),
        tuple(Subscription.objects.order_by("pk").values_list("paused_until", flat=True)),
        Suppression.objects.count(),
        Contact.objects.count(),
        TransactionalMessage.objects.count(),
        LinkHit.objects.count(),
    )
