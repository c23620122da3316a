"""Delivering outbound events (integrations.webhooks), the task's steps called directly against a
real local receiver: signing, redirects, ordering per contact, retries, giving up, disabling."""

from __future__ import annotations

import contextlib
import datetime
import json
import socket
import ssl
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.utils import timezone

from subscriptions.consent.subscriptions import subscription_unsubscribe
from subscriptions.integrations.endpoints import webhook_endpoint_delete, webhook_endpoint_enable
from subscriptions.integrations.tasks import deliver_webhooks, sweep_webhooks
from subscriptions.integrations.webhooks import (
    Answer,
    deliveries_claim,
    delivery_attempt,
    delivery_record,
    retry_delay,
    signature,
    webhook_post,
)
from subscriptions.models import OutboundEvent, TransactionalMessage, WebhookDelivery
from tests.factories import SubscriptionFactory
from tests.integrations.conftest import signature_valid


def unsubscribe(contact, topic, actor) -> WebhookDelivery:
    subscription_unsubscribe(contact=contact, topic=topic, by=actor)
    return WebhookDelivery.objects.order_by("-id").first()


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    header = signature(secret="whsec_k", timestamp=1700000000, body=b'{"a":1}')
    # Computed once with `printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_k`.
    assert header == (
        "t=1700000000,v1=a252a4340d8bbbdbac8643a2812cc7d628ad79bfba544bff054ac2fa10f795a2"
    )


def test_it_posts_the_event_signed_and_records_the_delivery(
    subscribed_alice, topic, actor, endpoint, receiver
):
    delivery = unsubscribe(subscribed_alice, topic, actor)
    assert deliveries_claim(limit=5) == [delivery.pk]
    assert delivery_attempt(delivery.pk) is None

    [request] = receiver.requests
    body = json.loads(request.body)
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["id"] == str(delivery.event.uid)
    assert signature_valid(endpoint.secret, request.headers["Prefcenter-Signature"], request.body)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.delivered_at is not None


def test_a_redirect_is_not_followed_and_is_retried(
    subscribed_alice, topic, actor, endpoint, receiver, settings
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 60
    receiver.script = [("redirect", "/elsewhere")]
    delivery = unsubscribe(subscribed_alice, topic, actor)
    deliveries_claim(limit=5)
    retry_at = delivery_attempt(delivery.pk)

    assert [request.path for request in receiver.requests] == ["/hook"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == ("failed", 302)
    assert "/elsewhere not followed" in delivery.last_error
    assert 47 <= (retry_at - timezone.now()).total_seconds() <= 73
    assert delivery.next_attempt_at == retry_at


def test_a_later_event_of_the_same_contact_waits_for_the_earlier(
    subscribed_alice, topic, other_topic, actor, endpoint, receiver, alice
):
    SubscriptionFactory(contact=subscribed_alice, topic=other_topic)
    first = unsubscribe(subscribed_alice, topic, actor)
    second = unsubscribe(subscribed_alice, other_topic, actor)
    assert deliveries_claim(limit=5) == [first.pk]  # the second waits behind it
    delivery_record(delivery=first, answer=Answer(500, "The receiver answered 500."))
    WebhookDelivery.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now())
    assert deliveries_claim(limit=5) == [first.pk]  # still first, after its failure
    delivery_attempt(first.pk)
    assert deliveries_claim(limit=5) == [second.pk]


def test_events_of_different_contacts_do_not_wait_for_each_other(
    subscribed_alice, topic, actor, endpoint
):
    bob = SubscriptionFactory(topic=topic).contact
    first = unsubscribe(subscribed_alice, topic, actor)
    second = unsubscribe(bob, topic, actor)
    assert sorted(deliveries_claim(limit=5)) == [first.pk, second.pk]
    assert deliveries_claim(limit=5) == []  # both leased


def test_retries_back_off_exponentially_with_jitter(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 5
    for attempts, base in ((1, 5), (2, 15), (3, 45), (4, 135)):
        waits = {retry_delay(attempts).total_seconds() for _ in range(20)}
        assert all(0.8 * base <= wait <= 1.2 * base for wait in waits)
        assert len(waits) > 1
    assert retry_delay(30) <= datetime.timedelta(hours=6, minutes=72)


def test_it_gives_up_after_24_hours_and_the_next_event_goes(
    subscribed_alice, topic, other_topic, actor, endpoint
):
    SubscriptionFactory(contact=subscribed_alice, topic=other_topic)
    first = unsubscribe(subscribed_alice, topic, actor)
    second = unsubscribe(subscribed_alice, other_topic, actor)
    OutboundEvent.objects.filter(pk=first.event_id).update(
        created_at=timezone.now() - datetime.timedelta(hours=24, seconds=1)
    )
    first = WebhookDelivery.objects.select_related("event").get(pk=first.pk)
    assert delivery_record(delivery=first, answer=Answer(None, "No answer")) is None
    first.refresh_from_db()
    assert first.status == "gave_up"
    assert deliveries_claim(limit=5) == [second.pk]


def test_the_last_retry_is_at_the_24th_hour_not_after(subscribed_alice, topic, actor, endpoint):
    first = unsubscribe(subscribed_alice, topic, actor)
    created = timezone.now() - datetime.timedelta(hours=24) + datetime.timedelta(seconds=2)
    OutboundEvent.objects.filter(pk=first.event_id).update(created_at=created)
    first = WebhookDelivery.objects.select_related("event").get(pk=first.pk)
    retry_at = delivery_record(delivery=first, answer=Answer(503, "busy"))
    assert retry_at == created + datetime.timedelta(hours=24)


def test_three_days_of_failures_disable_the_endpoint_and_tell_staff(
    subscribed_alice, topic, actor, endpoint, django_user_model
):
    django_user_model.objects.create_user("ops", "ops@example.com", "pw", is_staff=True)
    django_user_model.objects.create_user("joe", "joe@example.com", "pw")
    delivery = unsubscribe(subscribed_alice, topic, actor)
    endpoint.failing_since = timezone.now() - datetime.timedelta(days=3, minutes=1)
    endpoint.save()
    delivery_record(delivery=delivery, answer=Answer(500, "The receiver answered 500."))

    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_at is not None
    assert "re-enable" in endpoint.disabled_reason
    [notice] = TransactionalMessage.objects.all()
    assert notice.to_email == "ops@example.com"
    assert endpoint.url in notice.text_body
    # Nothing is tried while disabled; re-enabling makes its open deliveries due again.
    assert deliveries_claim(limit=5) == []
    assert webhook_endpoint_enable(endpoint=endpoint)
    assert endpoint.is_active and endpoint.failing_since is None
    assert deliveries_claim(limit=5) == [delivery.pk]


def test_a_success_ends_the_failure_run(subscribed_alice, topic, actor, endpoint):
    delivery = unsubscribe(subscribed_alice, topic, actor)
    delivery_record(delivery=delivery, answer=Answer(500, "x"))
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    delivery_record(delivery=delivery, answer=Answer(204))
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.is_active


def test_a_hostname_resolving_to_loopback_is_refused_at_delivery(
    subscribed_alice, topic, actor, endpoint, receiver, settings
):
    # Created while allowed; then the rule applies (as when a public name is re-pointed).
    name = socket.gethostname()
    if not socket.gethostbyname(name).startswith("127."):
        name = "localhost"
    port = receiver.url.split(":")[2].split("/")[0]
    endpoint.url = f"http://{name}:{port}/hook"
    endpoint.save()
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    delivery = unsubscribe(subscribed_alice, topic, actor)
    deliveries_claim(limit=5)
    delivery_attempt(delivery.pk)

    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.last_status_code is None
    assert "127.0.0.1" in delivery.last_error and "public addresses" in delivery.last_error


def test_the_task_delivers_and_the_sweep_gives_up_stale_ones(
    subscribed_alice, topic, other_topic, actor, endpoint, receiver
):
    SubscriptionFactory(contact=subscribed_alice, topic=other_topic)
    unsubscribe(subscribed_alice, topic, actor)
    assert deliver_webhooks() == 1
    assert len(receiver.events()) == 1
    stale = unsubscribe(subscribed_alice, other_topic, actor)
    endpoint.is_active = False
    endpoint.save()
    OutboundEvent.objects.filter(pk=stale.event_id).update(
        created_at=timezone.now() - datetime.timedelta(hours=25)
    )
    sweep_webhooks()
    stale.refresh_from_db()
    assert stale.status == "gave_up"


def _self_signed(tmp_path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_https_names_the_host_and_refuses_an_untrusted_certificate(tmp_path, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path))
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_once() -> None:
        conn, _ = listener.accept()
        with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True):
            pass

    thread = threading.Thread(target=serve_once, daemon=True)
    thread.start()
    answer = webhook_post(url=f"https://localhost:{port}/hook", body=b"{}", headers={})
    thread.join(5)
    listener.close()
    assert answer.status_code is None and not answer.ok
    assert "certificate" in answer.error.lower()
    assert names == ["localhost"]  # the vetted IP is dialled, the name is what TLS checks


def test_a_task_gives_back_what_it_had_no_time_for(topic, actor, endpoint, receiver):
    receiver.script = ["hang"]
    contacts = [SubscriptionFactory(topic=topic).contact for _ in range(3)]
    for contact in contacts:
        unsubscribe(contact, topic, actor)

    started = time.monotonic()
    assert deliver_webhooks() == 1  # the hanging receiver used the task's time
    assert 5 <= time.monotonic() - started < 7
    untouched = WebhookDelivery.objects.filter(attempts=0)
    assert untouched.count() == 2
    assert all(d.next_attempt_at <= timezone.now() for d in untouched)  # due again at once
    timed_out = WebhookDelivery.objects.get(attempts=1)
    assert timed_out.status == "failed"
    assert timed_out.last_error == "No answer within 5 seconds."


def test_an_endpoint_deleted_during_an_attempt_is_no_error(
    subscribed_alice, topic, actor, endpoint
):
    delivery = unsubscribe(subscribed_alice, topic, actor)
    delivery = WebhookDelivery.objects.select_related("event").get(pk=delivery.pk)
    webhook_endpoint_delete(endpoint=endpoint)
    assert delivery_record(delivery=delivery, answer=Answer(500, "x")) is not None
    assert WebhookDelivery.objects.count() == 0
