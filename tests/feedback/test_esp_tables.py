"""Every Anymail ESP read right (issue 11): each ESP's own tracking payload, signed as that ESP
signs it, POSTed to /anymail/<esp>/tracking/, leaves the right suppression (or none).

Payloads are under tests/fixtures/webhooks/<esp>/, written from each ESP's webhook
documentation. A hard bounce or an invalid address suppresses everything (scope `all`); a soft
bounce only counts toward the soft-bounce limit; a complaint or an unsubscribe stops marketing.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import secrets
import time
from urllib.parse import urlencode

import pytest
from anymail.signals import AnymailTrackingEvent
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from svix.webhooks import Webhook

from subscriptions.addresses import address_hash
from subscriptions.consent.suppression import suppression_check
from subscriptions.feedback.esp_events import ESP_TABLES, feedback_kind
from subscriptions.models import ProcessedWebhookEvent, SoftBounce, Subscription
from subscriptions.models.choices import FeedbackKind
from tests.feedback.test_webhooks import AUTH, FIXTURES, load, reasons, sent_to
from tests.webhook_signing import KEYS, hmac_hex

__all__ = ["sent_to"]  # a fixture, used by name

pytestmark = pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")

MAILGUN_KEY = "test-mailgun-signing-key"
MANDRILL_KEY = "test-mandrill-webhook-key"
MAILERSEND_SECRET = "test-mailersend-signing-secret"
RESEND_SECRET = "whsec_dGVzdC1yZXNlbmQtc2lnbmluZy1zZWNyZXQ="
UNISENDER_GO_KEY = "test-unisender-go-api-key"
MAILTRAP_SECRET = "test-mailtrap-tracking-secret"

# Not in the test settings' ESP_WEBHOOKS (they do not sign); mounted by the tests that post there.
UNSIGNED_ESPS = ("brevo", "mailjet", "sparkpost")


# --- how each ESP posts (and signs) its payload -----------------------------------------------


def _json(payload) -> tuple[str, str, dict]:
    return "application/json", json.dumps(payload), {}


def _postmark(payload):
    return _json(payload)


def _brevo(payload):
    return _json(payload)


def _mailjet(payload):
    return _json(payload)


def _sparkpost(payload):
    return _json(payload)


def _mailgun(payload):
    stamp, token = str(int(time.time())), secrets.token_hex(25)
    payload = {
        **payload,
        "signature": {
            "timestamp": stamp,
            "token": token,
            "signature": hmac_hex(MAILGUN_KEY, f"{stamp}{token}".encode()),
        },
    }
    return _json(payload)


def _mandrill(payload):
    # Mandrill signs the URL it posts to (with the basic auth in it) and the sorted form fields.
    events = json.dumps(payload)
    url = "http://test:webhook-secret@testserver/anymail/mandrill/tracking/"
    digest = hmac.new(
        MANDRILL_KEY.encode(), (url + "mandrill_events" + events).encode(), hashlib.sha1
    ).digest()
    headers = {"HTTP_X_MANDRILL_SIGNATURE": base64.b64encode(digest).decode()}
    return "application/x-www-form-urlencoded", urlencode({"mandrill_events": events}), headers


def _mailersend(payload):
    body = json.dumps(payload)
    return "application/json", body, {"HTTP_SIGNATURE": hmac_hex(MAILERSEND_SECRET, body.encode())}


def _postal(payload):
    body = json.dumps(payload)
    key = serialization.load_pem_private_key((KEYS / "postal_test_key.pem").read_bytes(), None)
    signature = key.sign(body.encode(), padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 - Postal signs with SHA-1
    return (
        "application/json",
        body,
        {"HTTP_X_POSTAL_SIGNATURE": base64.b64encode(signature).decode()},
    )


def _resend(payload):
    body = json.dumps(payload)
    msg_id, now = f"msg_{secrets.token_hex(12)}", datetime.datetime.now(tz=datetime.UTC)
    signature = Webhook(RESEND_SECRET).sign(msg_id, now, body)
    headers = {
        "HTTP_SVIX_ID": msg_id,
        "HTTP_SVIX_TIMESTAMP": str(int(now.timestamp())),
        "HTTP_SVIX_SIGNATURE": signature,
    }
    return "application/json", body, headers


def _unisender_go(payload):
    # The `auth` field is the MD5 of the body as it reads with the API key in its place.
    unsigned = json.dumps({**payload, "auth": UNISENDER_GO_KEY})
    auth = hashlib.md5(unsigned.encode()).hexdigest()  # noqa: S324 - Unisender Go's scheme
    return "application/json", unsigned.replace(UNISENDER_GO_KEY, auth), {}


def _mailtrap(payload):
    body = json.dumps(payload)
    return (
        "application/json",
        body,
        {"HTTP_MAILTRAP_SIGNATURE": hmac_hex(MAILTRAP_SECRET, body.encode())},
    )


SIGNERS = {
    "postmark": _postmark,
    "mailgun": _mailgun,
    "brevo": _brevo,
    "mailjet": _mailjet,
    "mandrill": _mandrill,
    "mailersend": _mailersend,
    "sparkpost": _sparkpost,
    "resend": _resend,
    "postal": _postal,
    "mailtrap": _mailtrap,
    "unisender_go": _unisender_go,
}


def post_esp(client, esp: str, payload):
    content_type, body, headers = SIGNERS[esp](payload)
    return client.post(
        f"/anymail/{esp}/tracking/",
        data=body,
        content_type=content_type,
        HTTP_AUTHORIZATION=AUTH,
        **headers,
    )


@pytest.fixture(autouse=True)
def _mount_every_esp(settings):
    settings.ESP_WEBHOOKS = [*settings.ESP_WEBHOOKS, *UNSIGNED_ESPS]


# --- what each payload must do ------------------------------------------------------------------

HARD = {("hard_bounce", "all")}
INVALID = {("invalid", "all")}
COMPLAINT = {("complaint", "marketing"), ("unsubscribed_all", "marketing")}
UNSUBSCRIBE = {("unsubscribed_all", "marketing")}
NOTHING: set = set()
SOFT = "soft"  # no suppression, one soft bounce counted

# (fixture, recipient, expected)
CASES = [
    ("postmark/bounce_bad_address.json", "john@example.com", INVALID),
    ("postmark/bounce_transient.json", "john@example.com", SOFT),
    ("postmark/bounce_blocked.json", "john@example.com", NOTHING),
    ("mailgun/failed_permanent.json", "alice@example.com", HARD),
    ("mailgun/failed_temporary.json", "alice@example.com", SOFT),
    ("mailgun/complained.json", "alice@example.com", COMPLAINT),
    ("mailgun/unsubscribed.json", "alice@example.com", UNSUBSCRIBE),
    ("brevo/hard_bounce.json", "example@domain.com", HARD),
    ("brevo/soft_bounce.json", "example@domain.com", SOFT),
    ("brevo/invalid_email.json", "example@domain.com", INVALID),
    ("brevo/spam.json", "example@domain.com", COMPLAINT),
    ("brevo/unsubscribe.json", "example@domain.com", UNSUBSCRIBE),
    ("brevo/blocked.json", "example@domain.com", NOTHING),
    ("mailjet/bounce_hard.json", "api@mailjet.com", INVALID),
    ("mailjet/bounce_soft.json", "api@mailjet.com", SOFT),
    ("mailjet/blocked.json", "api@mailjet.com", NOTHING),
    ("mailjet/spam.json", "api@mailjet.com", COMPLAINT),
    ("mailjet/unsub.json", "api@mailjet.com", UNSUBSCRIBE),
    ("mandrill/hard_bounce.json", "example.webhook@mandrillapp.com", INVALID),
    ("mandrill/soft_bounce.json", "example.webhook@mandrillapp.com", SOFT),
    ("mandrill/spam.json", "example.webhook@mandrillapp.com", COMPLAINT),
    ("mandrill/reject.json", "example.webhook@mandrillapp.com", NOTHING),
    ("mailersend/hard_bounced.json", "recipient@example.com", HARD),
    ("mailersend/soft_bounced.json", "recipient@example.com", SOFT),
    ("mailersend/spam_complaint.json", "recipient@example.com", COMPLAINT),
    ("mailersend/unsubscribed.json", "recipient@example.com", UNSUBSCRIBE),
    ("sparkpost/bounce_invalid_recipient.json", "recipient@example.com", INVALID),
    ("sparkpost/bounce_mailbox_full.json", "recipient@example.com", SOFT),
    ("sparkpost/bounce_no_rcpt.json", "recipient@example.com", HARD),
    ("sparkpost/bounce_mail_block.json", "recipient@example.com", NOTHING),
    ("sparkpost/spam_complaint.json", "recipient@example.com", COMPLAINT),
    ("sparkpost/list_unsubscribe.json", "recipient@example.com", UNSUBSCRIBE),
    ("resend/bounced_permanent.json", "delivered@resend.dev", HARD),
    ("resend/bounced_transient.json", "delivered@resend.dev", SOFT),
    ("resend/complained.json", "delivered@resend.dev", COMPLAINT),
    ("postal/delivery_failed.json", "bounce@example.com", HARD),
    ("postal/delayed.json", "bounce@example.com", SOFT),
    ("postal/bounced.json", "bounce@example.com", HARD),
    ("mailtrap/bounce.json", "receiver@example.mailtrap.io", HARD),
    ("mailtrap/soft_bounce.json", "receiver@example.mailtrap.io", SOFT),
    ("mailtrap/spam.json", "receiver@example.mailtrap.io", COMPLAINT),
    ("mailtrap/unsubscribe.json", "receiver@example.mailtrap.io", UNSUBSCRIBE),
    ("unisender_go/hard_bounced_user_unknown.json", "recipient.user@example.com", INVALID),
    ("unisender_go/hard_bounced_blacklisted.json", "recipient.user@example.com", NOTHING),
    ("unisender_go/soft_bounced.json", "recipient.user@example.com", SOFT),
    ("unisender_go/spam.json", "recipient.user@example.com", COMPLAINT),
    ("unisender_go/unsubscribed.json", "recipient.user@example.com", UNSUBSCRIBE),
]


@pytest.mark.parametrize(("fixture", "email", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_esp_payload_has_its_effect(client, sent_to, fixture, email, expected):
    delivery = sent_to(email, "esp-message-id")
    esp = fixture.split("/")[0]
    response = post_esp(client, esp, load(fixture))
    assert response.status_code == 200, response.content
    soft_bounces = SoftBounce.objects.filter(address_hash=address_hash(email)).count()
    if expected == SOFT:
        assert reasons(email) == set()
        assert soft_bounces == 1
    else:
        assert reasons(email) == expected
        assert soft_bounces == 0
    subscribed = Subscription.objects.get(contact=delivery.contact).status != "unsubscribed"
    assert subscribed == (expected not in (COMPLAINT, UNSUBSCRIBE))
    if expected == NOTHING:
        assert ProcessedWebhookEvent.objects.count() == 0


def test_every_esp_has_a_table_and_a_payload():
    names = {path.parent.name for path in FIXTURES.glob("*/*.json")}
    assert names >= {*SIGNERS, "amazon_ses", "sendgrid"}
    esp_names = {
        "Postmark",
        "Amazon SES",
        "SendGrid",
        "Mailgun",
        "Brevo",
        "Mailjet",
        "Mandrill",
        "MailerSend",
        "SparkPost",
        "Resend",
        "Postal",
        "Mailtrap",
        "Unisender Go",
    }
    assert esp_names <= set(ESP_TABLES)


# --- the four failures seen in issue 11 -----------------------------------------------------------


def test_a_sparkpost_user_unknown_bounce_class_10_suppresses_everything(client, sent_to):
    sent_to("recipient@example.com", "esp-message-id")
    payload = load("sparkpost/bounce_invalid_recipient.json")
    assert payload[0]["msys"]["message_event"]["bounce_class"] == "10"
    assert post_esp(client, "sparkpost", payload).status_code == 200
    assert reasons("recipient@example.com") == INVALID
    assert suppression_check(email="recipient@example.com").scope == "all"


def test_a_brevo_invalid_email_suppresses_everything(client, sent_to):
    sent_to("example@domain.com", "esp-message-id")
    assert post_esp(client, "brevo", load("brevo/invalid_email.json")).status_code == 200
    assert suppression_check(email="example@domain.com").scope == "all"


@pytest.mark.parametrize(
    ("esp", "fixture", "email"),
    [
        ("brevo", "brevo/soft_bounce.json", "example@domain.com"),
        ("mailersend", "mailersend/soft_bounced.json", "recipient@example.com"),
    ],
)
def test_a_single_soft_bounce_leaves_the_address_mailable(client, sent_to, esp, fixture, email):
    # It used to be filed as a hard bounce with scope `all`: the next password reset was refused.
    sent_to(email, "esp-message-id")
    assert post_esp(client, esp, load(fixture)).status_code == 200
    assert suppression_check(email=email).suppressed is False
    assert SoftBounce.objects.filter(address_hash=address_hash(email)).count() == 1


def test_three_brevo_soft_bounces_reach_the_soft_bounce_limit(client, sent_to):
    sent_to("example@domain.com", "esp-message-id")
    payload = load("brevo/soft_bounce.json")
    for n in range(3):
        # Brevo sends no event id: each bounce differs by its time.
        payload["ts_epoch"] += 3_600_000 * n
        assert post_esp(client, "brevo", payload).status_code == 200
    assert reasons("example@domain.com") == {("soft_bounce_limit", "all")}


# --- the tables themselves ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("esp_name", "esp_event", "kind"),
    [
        # the longest listed prefix wins; an unlisted class falls back to the event's default
        (
            "SparkPost",
            {"msys": {"message_event": {"type": "bounce", "bounce_class": 10}}},
            "invalid",
        ),
        (
            "SparkPost",
            {"msys": {"message_event": {"type": "bounce", "bounce_class": "99"}}},
            "soft_bounce",
        ),
        ("SendGrid", {"event": "dropped", "reason": "Bounced Address"}, "hard_bounce"),
        ("SendGrid", {"event": "dropped", "reason": "Spam Reporting Address"}, "complaint"),
        (
            "Amazon SES",
            {"notificationType": "Complaint", "complaint": {"complaintFeedbackType": "not-spam"}},
            None,
        ),
        (
            "Amazon SES",
            {"eventType": "Bounce", "bounce": {"bounceType": "Transient"}},
            "soft_bounce",
        ),
        (
            "Mailjet",
            {"event": "bounce", "hard_bounce": False, "error": "user unknown"},
            "soft_bounce",
        ),
        (
            "Mailgun",
            {
                "event-data": {
                    "event": "failed",
                    "severity": "permanent",
                    "reason": "suppress-unsubscribe",
                }
            },
            None,
        ),
    ],
)
def test_the_tables_read_the_esps_own_names(esp_name, esp_event, kind):
    found, got = ESP_TABLES[esp_name].lookup(esp_event)
    assert found
    assert got == kind


def test_a_payload_of_the_wrong_shape_is_not_in_any_table():
    for table in ESP_TABLES.values():
        for esp_event in ([], "bounce", None, {"event": ["bounce"]}, {"msys": {"a": {}, "b": {}}}):
            assert table.lookup(esp_event) in ((False, None),)


def test_every_table_names_only_feedback_kinds():
    kinds = set(FeedbackKind.values) | {None}
    for table in ESP_TABLES.values():
        assert set(table.kinds.values()) <= kinds


@pytest.mark.parametrize(
    ("event_type", "reject_reason", "kind"),
    [
        ("bounced", None, "hard_bounce"),
        ("bounced", "bounced", "hard_bounce"),
        ("bounced", "invalid", "invalid"),  # once ignored: the address stayed mailable
        ("bounced", "other", None),  # e.g. a virus notification
        ("rejected", "blocked", None),
        ("deferred", None, "soft_bounce"),
        ("complained", "spam", "complaint"),
        ("unknown", None, None),
    ],
)
def test_an_esp_without_a_table_falls_back_to_anymails_reading(event_type, reject_reason, kind):
    event = AnymailTrackingEvent(
        event_type=event_type, reject_reason=reject_reason, esp_event={"event": "x"}
    )
    assert feedback_kind("Some New ESP", event) == kind
