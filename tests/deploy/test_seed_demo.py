from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from subscriptions.models import (
    Campaign,
    ConsentEvent,
    Contact,
    Subscription,
    Suppression,
    Topic,
    TransactionalMessage,
)

pytestmark = pytest.mark.django_db


def seed(**kwargs) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **kwargs)
    return out.getvalue()


def standing(email: str, slug: str) -> Subscription:
    return Subscription.objects.get(contact__email=email, topic__slug=slug)


def counts() -> dict[str, int]:
    models = [Topic, Contact, Subscription, ConsentEvent, Suppression, Campaign]
    result = {model.__name__: model.objects.count() for model in models}
    result["users"] = get_user_model().objects.count()
    result["mail"] = TransactionalMessage.objects.count()
    return result


def test_it_creates_contacts_in_every_state(settings):
    settings.DEBUG = True
    output = seed()

    assert set(Topic.objects.values_list("slug", flat=True)) == {
        "product-news",
        "weekly-digest",
        "events",
    }
    assert all(t.description and t.frequencies for t in Topic.objects.all())
    assert standing("ada@example.com", "product-news").status == "subscribed"
    assert standing("ada@example.com", "weekly-digest").frequency == "monthly"
    assert standing("ben@example.com", "product-news").status == "pending"
    assert standing("chloe@example.com", "product-news").status == "unsubscribed"
    assert standing("chloe@example.com", "events").status == "subscribed"
    assert standing("dev@example.com", "weekly-digest").paused_until > timezone.now()
    soft = standing("emil@example.com", "product-news")
    assert (soft.status, soft.legal_basis, soft.implied_by) == (
        "subscribed",
        "soft_opt_in",
        "purchase",
    )
    fay, gus = (
        Contact.objects.get(email="fay@example.com"),
        Contact.objects.get(email="gus@example.com"),
    )
    assert not fay.subscriptions.exclude(status="unsubscribed").exists()
    assert Suppression.objects.filter(address_hash=fay.address_hash, scope="marketing").exists()
    assert Suppression.objects.filter(
        address_hash=gus.address_hash, reason="hard_bounce", scope="all"
    ).exists()
    assert Contact.objects.get(email="freja@example.dk").locale == "da"

    news = Topic.objects.get(slug="product-news")
    marketable = set(Contact.objects.marketable(news).values_list("email", flat=True))
    assert {"ada@example.com", "emil@example.com", "freja@example.dk"} <= marketable
    excluded = {"ben@example.com", "chloe@example.com", "fay@example.com", "gus@example.com"}
    assert not marketable & excluded
    events = Topic.objects.get(slug="events")
    assert "hugo@example.com" not in set(
        Contact.objects.marketable(events).values_list("email", flat=True)
    )

    user = get_user_model().objects.get(username="demo")
    assert user.is_staff and user.is_superuser and user.check_password("demo")
    assert Contact.objects.get(user=user).email == "demo@example.com"
    assert Campaign.objects.get(topic=news).status == "draft"
    assert "demo" in output and "ben@example.com: pending confirmation" in output


def test_it_records_every_change_in_the_ledger_with_realistic_sources(settings):
    settings.DEBUG = True
    seed()

    sources = set(ConsentEvent.objects.values_list("source", flat=True))
    assert {
        "subscribe_form",
        "confirmation",
        "one_click",
        "preference_page",
        "api",
        "esp_webhook",
    } <= sources
    for subscription in Subscription.objects.all():
        last = (
            ConsentEvent.objects.filter(contact=subscription.contact, topic=subscription.topic)
            .order_by("-pk")
            .first()
        )
        assert last is not None, subscription
    # Only the pending contact's confirmation goes out; the others confirmed long ago.
    assert list(TransactionalMessage.objects.values_list("to_email", flat=True)) == [
        "ben@example.com"
    ]


def test_it_is_idempotent(settings):
    settings.DEBUG = True
    seed()
    before = counts()

    output = seed()

    assert counts() == before
    assert "exists, left as it is" in output


def test_it_creates_no_demo_login_without_debug(settings):
    settings.DEBUG = False
    output = seed()

    assert not get_user_model().objects.filter(username="demo").exists()
    assert "not created" in output
    assert Contact.objects.filter(email="ada@example.com").exists()

    seed(demo_user=True)

    assert get_user_model().objects.get(username="demo").is_superuser
