"""Webhooks authenticate or change nothing (issue 9, road 6), written as the attacks.

Each attack posts what a stranger on the internet can post to /anymail/: a bounce or complaint
without credentials, an SES notification with a forged SNS signature or a certificate from a
host that is not Amazon's, a SendGrid batch without its signature, a signing ESP's payload
without a signature. None may add a suppression or touch a subscription.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from prefcenter.esps import SIGNING_KEYS
from subscriptions.addresses import address_hash
from subscriptions.feedback.webhooks import TRACKING_VIEWS
from subscriptions.models import (
    ConsentEvent,
    ProcessedWebhookEvent,
    SoftBounce,
    Subscription,
    Suppression,
)
from tests.feedback.test_webhooks import (
    AUTH,
    POSTMARK_MID,
    SENDGRID_MID,
    SES_MID,
    load,
    post_postmark,
    post_sendgrid,
    post_ses,
    sent_to,
)
from tests.webhook_signing import SNS_CERT_URL, dumps, hmac_hex, sns_certificates, sns_signed

__all__ = ["sent_to", "sns_certificates"]  # fixtures, used by name

MAILGUN_KEY = "test-mailgun-signing-key"

pytestmark = pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")


@pytest.fixture
def victim(sent_to):
    """john@example.com, subscribed, with a sent delivery of each ESP's message id."""
    delivery = sent_to("john@example.com", POSTMARK_MID)
    return delivery.contact


def nothing_changed(contact=None) -> bool:
    untouched = (
        Suppression.objects.count() == 0
        and SoftBounce.objects.count() == 0
        and ProcessedWebhookEvent.objects.count() == 0
        and ConsentEvent.objects.count() == 0
    )
    if contact is not None:
        untouched = (
            untouched
            and not Subscription.objects.filter(contact=contact, status="unsubscribed").exists()
        )
    return untouched


# --- no credentials ---------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["postmark/bounce_hard.json", "postmark/spam_complaint.json"])
def test_it_refuses_an_unauthenticated_postmark_bounce_or_complaint(client, victim, fixture):
    response = post_postmark(client, load(fixture), auth="")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert nothing_changed(victim)


def test_it_refuses_an_unauthenticated_sendgrid_batch_even_when_signed(client, sent_to):
    contact = sent_to("bounce@test.com", SENDGRID_MID).contact
    assert post_sendgrid(client, load("sendgrid/bounce.json"), auth="").status_code == 401
    assert nothing_changed(contact)


def test_it_refuses_an_unauthenticated_ses_complaint_even_when_signed(
    client, sent_to, sns_certificates
):
    contact = sent_to("jane@example.com", SES_MID).contact
    assert post_ses(client, load("amazon_ses/complaint.json"), auth=None).status_code == 401
    assert nothing_changed(contact)


def test_it_refuses_everything_when_no_webhook_secret_is_configured(client, victim, settings):
    # What DEBUG-off production used to do with ANYMAIL_WEBHOOK_SECRET unset: accept anyone.
    settings.ANYMAIL = {k: v for k, v in settings.ANYMAIL.items() if k != "WEBHOOK_SECRET"}
    for auth in ("", AUTH):
        response = post_postmark(client, load("postmark/bounce_hard.json"), auth=auth)
        assert response.status_code == 403
    assert nothing_changed(victim)


# --- Amazon SES through SNS -------------------------------------------------------------------


def test_it_refuses_an_ses_bounce_with_a_forged_sns_signature(client, sent_to, sns_certificates):
    contact = sent_to("jane@example.com", SES_MID).contact
    # The shape Anymail's own tests use: an SNS message with a made-up signature.
    assert post_ses(client, load("amazon_ses/bounce_permanent.json"), sign=False).status_code == 403
    # A real signature over another message, with this bounce swapped in.
    genuine = sns_signed(load("amazon_ses/delivery.json"))
    forged = {**genuine, "Message": load("amazon_ses/bounce_permanent.json")["Message"]}
    assert post_ses(client, forged, sign=False).status_code == 403
    assert nothing_changed(contact)


@pytest.mark.parametrize(
    "cert_url",
    [
        "https://attacker.example.com/SimpleNotificationService-1.pem",
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.us-east-1.amazonaws.com.attacker.example/SimpleNotificationService-1.pem",
        "https://attacker.example/sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://user@sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-1.pem",
        "https://s3.amazonaws.com/attacker/SimpleNotificationService-1.pem",
    ],
)
def test_it_refuses_an_ses_bounce_signed_with_a_certificate_not_on_an_sns_host(
    client, sent_to, sns_certificates, cert_url
):
    contact = sent_to("jane@example.com", SES_MID).contact
    # Signed with a key whose certificate the attacker serves: valid, but not Amazon's host.
    message = sns_signed(load("amazon_ses/bounce_permanent.json"), cert_url=cert_url)
    assert post_ses(client, message, sign=False).status_code == 403
    assert sns_certificates == []  # never fetched
    assert nothing_changed(contact)


def test_it_accepts_an_ses_bounce_signed_by_sns_in_either_signature_version(
    client, sent_to, sns_certificates
):
    sent_to("jane@example.com", SES_MID)
    message = sns_signed(load("amazon_ses/bounce_permanent.json"), version="2")
    assert post_ses(client, message, sign=False).status_code == 200
    assert Suppression.objects.filter(address_hash=address_hash("jane@example.com")).exists()
    assert sns_certificates == [SNS_CERT_URL]


def test_it_refuses_a_genuinely_signed_message_from_a_topic_not_in_ses_sns_topic_arns(
    client, sent_to, sns_certificates, settings
):
    # Anyone can have SNS sign messages of a topic in their own AWS account.
    contact = sent_to("jane@example.com", SES_MID).contact
    settings.SES_SNS_TOPIC_ARNS = ["arn:aws:sns:us-east-1:222222222222:Our_SES_Events"]
    assert post_ses(client, load("amazon_ses/bounce_permanent.json")).status_code == 403
    assert nothing_changed(contact)
    settings.SES_SNS_TOPIC_ARNS = ["arn:aws:sns:us-east-1:111111111111:SES_Tracking"]
    assert post_ses(client, load("amazon_ses/bounce_permanent.json")).status_code == 200


# --- signatures that are required -------------------------------------------------------------


def test_it_refuses_a_sendgrid_batch_without_its_signature(client, sent_to):
    contact = sent_to("bounce@test.com", SENDGRID_MID).contact
    body = json.dumps(load("sendgrid/bounce.json"))
    # Basic auth alone used to be enough: the signature was checked only when a key was set.
    response = client.post(
        "/anymail/sendgrid/tracking/",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=AUTH,
    )
    assert response.status_code == 403
    assert nothing_changed(contact)


def test_it_refuses_a_signing_esp_whose_key_is_not_set_instead_of_answering_500(
    client, victim, settings
):
    settings.ANYMAIL = {
        k: v for k, v in settings.ANYMAIL.items() if k != "MAILGUN_WEBHOOK_SIGNING_KEY"
    }
    response = client.post(
        "/anymail/mailgun/tracking/",
        data=json.dumps(mailgun_bounce(signed=True)),
        content_type="application/json",
        HTTP_AUTHORIZATION=AUTH,
    )
    assert response.status_code == 403
    assert nothing_changed(victim)


def mailgun_bounce(*, signed: bool, key: str = MAILGUN_KEY) -> dict:
    stamp, token = str(int(time.time())), "0123456789abcdef0123456789abcdef0123456789abcdef01"
    signature = hmac_hex(key, f"{stamp}{token}".encode()) if signed else "0" * 64
    return {
        "signature": {"timestamp": stamp, "token": token, "signature": signature},
        "event-data": {
            "event": "failed",
            "severity": "permanent",
            "id": "G9Bn5sl1TC6nu79C8C0bwg",
            "timestamp": time.time(),
            "recipient": "john@example.com",
            "message": {"headers": {"message-id": "20130503182626.18666.16540@example.com"}},
            "delivery-status": {"code": 550, "message": "5.1.1 john@example.com: no mailbox"},
        },
    }


def test_it_applies_a_mailgun_bounce_only_with_the_right_signature(client, victim):
    for body in (mailgun_bounce(signed=False), mailgun_bounce(signed=True, key="guess")):
        response = client.post(
            "/anymail/mailgun/tracking/",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=AUTH,
        )
        assert response.status_code == 403
    assert nothing_changed(victim)
    response = client.post(
        "/anymail/mailgun/tracking/",
        data=json.dumps(mailgun_bounce(signed=True)),
        content_type="application/json",
        HTTP_AUTHORIZATION=AUTH,
    )
    assert response.status_code == 200
    assert Suppression.objects.filter(address_hash=address_hash("john@example.com")).exists()


UNSIGNED = {
    "mandrill": (
        "application/x-www-form-urlencoded",
        "mandrill_events="
        + json.dumps([{"event": "hard_bounce", "msg": {"email": "john@example.com"}, "ts": 1}]),
    ),
    "mailersend": (
        "application/json",
        dumps({"type": "activity.hard_bounced", "data": {"email": {"recipient": {}}}}),
    ),
    "postal": ("application/json", dumps({"event": "MessageBounced", "payload": {}})),
    "resend": ("application/json", dumps({"type": "email.bounced", "data": {"to": ["x@y.z"]}})),
    "unisender_go": ("application/json", dumps({"auth": "x", "events_by_user": []})),
    "mailtrap": ("application/json", dumps({"events": [{"event": "bounce"}]})),
}


@pytest.mark.parametrize("esp", UNSIGNED)
def test_it_refuses_every_signing_esp_without_a_signature(client, victim, esp):
    content_type, body = UNSIGNED[esp]
    response = client.post(
        f"/anymail/{esp}/tracking/",
        data=body,
        content_type=content_type,
        HTTP_AUTHORIZATION=AUTH,
    )
    assert response.status_code in (400, 403)
    assert nothing_changed(victim)


# --- only ESP_WEBHOOKS are mounted ------------------------------------------------------------

UNMOUNTED = [
    "/anymail/brevo/tracking/",
    "/anymail/sendinblue/tracking/",
    "/anymail/mailjet/tracking/",
    "/anymail/sparkpost/tracking/",
    "/anymail/mandrill/",
    "/anymail/postmark/inbound/",
    "/anymail/amazon_ses/inbound/",
    "/anymail/mailgun/inbound_mime/",
    "/anymail/sendgrid/inbound/",
    "/anymail/acme/tracking/",
    "/anymail/",
]


@pytest.mark.parametrize("url", UNMOUNTED)
def test_it_answers_404_at_every_url_not_in_esp_webhooks(client, db, url):
    response = client.post(url, data="{}", content_type="application/json", HTTP_AUTHORIZATION=AUTH)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_it_unmounts_an_esp_left_out_of_esp_webhooks(client, victim, settings):
    settings.ESP_WEBHOOKS = ["amazon_ses"]
    assert post_postmark(client, load("postmark/bounce_hard.json")).status_code == 404
    assert nothing_changed(victim)


# --- bad bodies, before authentication ---------------------------------------------------------


@pytest.mark.parametrize("esp", ["postmark", "amazon_ses", "sendgrid", "mailgun", "brevo"])
def test_it_refuses_deeply_nested_json_before_auth_without_recursing(client, db, esp):
    for body in ("[" * 200_000, '{"a":' * 100_000 + "1" + "}" * 100_000):
        response = client.post(f"/anymail/{esp}/tracking/", data=body, content_type="text/plain")
        assert response.status_code in (400, 404)  # 404: not mounted at all (brevo)
    assert Suppression.objects.count() == 0


def test_it_refuses_deep_json_inside_a_form_field(client, db):
    body = "mandrill_events=" + "[" * 50_000 + "]" * 50_000
    response = client.post(
        "/anymail/mandrill/tracking/",
        data=body,
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=AUTH,
    )
    assert response.status_code == 400


def test_it_still_accepts_json_nested_as_deep_as_real_payloads(client, victim):
    payload = load("postmark/bounce_hard.json")
    payload["Metadata"] = {"a": {"b": {"c": {"d": [[["deep enough"]]]}}}}
    assert post_postmark(client, payload).status_code == 200


def test_it_answers_basic_auth_with_a_challenge(client, db):
    wrong = "Basic " + base64.b64encode(b"test:guess").decode()
    response = post_postmark(client, load("postmark/delivery.json"), auth=wrong)
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_it_knows_the_signing_key_of_every_esp_anymail_routes():
    # A new Anymail ESP must be added to prefcenter/esps.py before it can be mounted.
    assert set(TRACKING_VIEWS) == set(SIGNING_KEYS)
