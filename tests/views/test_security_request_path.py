"""Issue 9, road 8 and the perimeter: the public forms tell nobody whether an address is known,
the client IP is the visitor's and not a proxy's, and rate-limit keys are keyed hashes.

Each test is written as the attack it stops.
"""

from __future__ import annotations

import hashlib
import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from prefcenter.celery import app as celery_app
from subscriptions import ratelimit
from subscriptions.consent.ledger import Actor
from subscriptions.models import ConsentEvent, Contact, TransactionalMessage
from tests.factories import ContactFactory, SubscriptionFactory
from tests.form_tasks import run_queued_form_tasks

pytestmark = pytest.mark.usefixtures("fresh_rate_limits")


def normalised(queries: list[dict]) -> list[str]:
    # Savepoint names carry a thread id and a counter, and "now" moves (the policy version in
    # force); everything else must match exactly.
    sqls = [re.sub(r'"s\d+_x\d+"', '"sp"', q["sql"]) for q in queries]
    return [re.sub(r"'\d{4}-\d\d-\d\d[T ][\d:.]+(\+00:00)?'", "'<now>'", sql) for sql in sqls]


def post_subscribe(client, email, topic, **meta):
    data = {"email": email, "topics": [topic.pk], "consent": "on"}
    return client.post(reverse("subscribe"), data, **meta)


def post_lost_link(client, email, **meta):
    return client.post(reverse("preferences_request"), {"email": email}, **meta)


# --- road 8: the same work for every address -----------------------------------------------------


def test_it_runs_the_same_queries_for_known_subscribed_and_unknown_addresses_on_subscribe(
    client, topic
):
    ContactFactory(email="known@example.com")
    SubscriptionFactory(contact=ContactFactory(email="subscribed@example.com"), topic=topic)
    runs = {}
    for email in ("known@example.com", "subscribed@example.com", "unknown@example.com"):
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            response = post_subscribe(client, email, topic)
        assert response.status_code == 200
        runs[email] = (normalised(queries.captured_queries), response.content)
    known, subscribed, unknown = runs.values()
    assert known == subscribed == unknown
    # No lookup of the address and no mail on the request path: all of it waits in the task.
    assert not any("example.com" in sql for sql in known[0])
    assert mail.outbox == []
    assert not TransactionalMessage.objects.exists()
    assert Contact.objects.count() == 2
    assert run_queued_form_tasks() == 3
    assert Contact.objects.count() == 3
    assert TransactionalMessage.objects.count() == 2  # the known and the new address


def test_it_runs_the_same_queries_for_known_and_unknown_addresses_on_the_lost_link_form(
    client, topic, send_queued_transactional
):
    ContactFactory(email="known@example.com")
    SubscriptionFactory(contact=ContactFactory(email="subscribed@example.com"), topic=topic)
    runs = {}
    for email in ("known@example.com", "subscribed@example.com", "unknown@example.com"):
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            response = post_lost_link(client, email)
        assert response.status_code == 200
        runs[email] = (normalised(queries.captured_queries), response.content)
    known, subscribed, unknown = runs.values()
    assert known == subscribed == unknown
    assert mail.outbox == []
    assert not TransactionalMessage.objects.exists()
    assert run_queued_form_tasks() == 3
    sent = send_queued_transactional()
    assert sorted(m.to[0] for m in sent) == ["known@example.com", "subscribed@example.com"]


@pytest.fixture
def dead_broker(transactional_db):
    """The broker refuses connections; on_commit runs at once (no test transaction)."""
    saved = celery_app.conf.broker_write_url

    def reset_pools():
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    celery_app.conf.broker_write_url = "redis://127.0.0.1:1/0"
    reset_pools()
    yield
    celery_app.conf.broker_write_url = saved
    reset_pools()


def test_it_answers_a_styled_503_when_the_broker_is_down(client, topic, dead_broker, db_snapshot):
    before = db_snapshot()
    for response in (
        post_subscribe(client, "someone@example.com", topic),
        post_lost_link(client, "someone@example.com"),
    ):
        assert response.status_code == 503
        assert response["Retry-After"] == "60"
        assert b"try again in a minute" in response.content
    assert db_snapshot() == before
    assert mail.outbox == []


# --- TRUSTED_PROXIES: whose IP is it? -----------------------------------------------------------


def request_from(remote: str, forwarded: str | None = None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        ([], "203.0.113.5", "198.51.100.7", "203.0.113.5"),  # no proxy trusted: header ignored
        (["10.0.0.0/8"], "203.0.113.5", "198.51.100.7", "203.0.113.5"),  # peer not a proxy
        (["10.0.0.0/8"], "10.0.0.2", "198.51.100.7", "198.51.100.7"),
        # The client wrote the left part; the rightmost untrusted hop is the one our proxy saw.
        (["10.0.0.0/8"], "10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.3", "198.51.100.7"),
        (["10.0.0.0/8"], "10.0.0.2", "garbage, 198.51.100.7", "198.51.100.7"),
        (["10.0.0.0/8"], "10.0.0.2", "198.51.100.7, garbage", "10.0.0.2"),
        (["10.0.0.0/8"], "10.0.0.2", "", "10.0.0.2"),
        (["::1"], "::1", "2001:db8::1", "2001:db8::1"),
        (["127.0.0.1"], "::ffff:127.0.0.1", "192.0.2.1", "192.0.2.1"),
        ([], "", None, "unknown"),
    ],
)
def test_it_takes_the_client_ip_from_a_trusted_proxy_only(proxies, remote, forwarded, expected):
    with override_settings(TRUSTED_PROXIES=proxies):
        assert ratelimit.client_ip(request_from(remote, forwarded)) == expected


@override_settings(SUBSCRIBE_RATE_LIMIT="2/h")
def test_it_ignores_a_spoofed_forwarded_for_from_an_untrusted_peer(client, topic):
    for n in range(2):
        response = post_subscribe(
            client, f"a{n}@example.com", topic, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"
        )
        assert response.status_code == 200
    # A fresh forged header does not buy a fresh counter.
    spoofed = post_subscribe(client, "c@example.com", topic, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert spoofed.status_code == 429
    run_queued_form_tasks()
    ips = set(ConsentEvent.objects.values_list("ip_address", flat=True))
    assert ips == {"127.0.0.0/24"}  # the real peer, not what the header claimed


@override_settings(SUBSCRIBE_RATE_LIMIT="2/h", TRUSTED_PROXIES=["10.0.0.0/8"])
def test_it_gives_visitors_behind_a_trusted_proxy_their_own_counters_and_ledger_ip(client, topic):
    proxy = {"REMOTE_ADDR": "10.1.2.3"}
    ann = {**proxy, "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    bob = {**proxy, "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    assert post_subscribe(client, "ann1@example.com", topic, **ann).status_code == 200
    assert post_subscribe(client, "ann2@example.com", topic, **ann).status_code == 200
    assert post_subscribe(client, "ann3@example.com", topic, **ann).status_code == 429
    # Before TRUSTED_PROXIES, Bob shared Ann's (the proxy's) exhausted counter.
    assert post_subscribe(client, "bob@example.com", topic, **bob).status_code == 200
    run_queued_form_tasks()
    recorded = dict(ConsentEvent.objects.values_list("contact__email", "ip_address"))
    assert recorded == {
        "ann1@example.com": "198.51.100.0/24",
        "ann2@example.com": "198.51.100.0/24",
        "bob@example.com": "203.0.113.0/24",
    }


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_it_records_the_visitor_ip_in_the_ledger_from_any_page():
    actor = Actor.from_request(
        request_from("10.0.0.1", "198.51.100.200"), source="unsubscribe_link"
    )
    assert actor.ip_address == "198.51.100.200"


@override_settings(PREFERENCE_LINK_RATE_LIMIT_IP="2/h")
def test_it_keys_ipv6_visitors_per_64(client, db):
    first = {"REMOTE_ADDR": "2001:db8:1:2::1"}
    same_64 = {"REMOTE_ADDR": "2001:db8:1:2:ffff::9"}
    other_64 = {"REMOTE_ADDR": "2001:db8:1:3::1"}
    assert post_lost_link(client, "a@example.com", **first).status_code == 200
    assert post_lost_link(client, "b@example.com", **same_64).status_code == 200
    # Rotating through the 2**64 addresses of one's own /64 does not reset the limit.
    assert post_lost_link(client, "c@example.com", **same_64).status_code == 429
    assert post_lost_link(client, "d@example.com", **other_64).status_code == 200


# --- rate-limit keys are keyed hashes --------------------------------------------------------------


def test_it_keys_rate_limits_with_the_suppression_key_not_a_bare_sha256(client, alice):
    assert post_lost_link(client, alice.email).status_code == 200
    run_queued_form_tasks()
    bare = hashlib.sha256(alice.email.encode()).hexdigest()[:32]
    assert not cache.has_key(f"rl:preflink-email:{bare}")
    assert cache.has_key(f"rl:preflink-email:{ratelimit.key_digest(alice.email)}")
    # Nor can an IP be confirmed by hashing a guess.
    assert not cache.has_key(f"rl:preflink-ip:{hashlib.sha256(b'127.0.0.1').hexdigest()[:32]}")
    assert cache.has_key(f"rl:preflink-ip:{ratelimit.key_digest('127.0.0.1')}")
    keyed = ratelimit.key_digest(alice.email)
    with override_settings(SUPPRESSION_HASH_KEY="another-key"):
        assert ratelimit.key_digest(alice.email) != keyed
