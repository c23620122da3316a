"""Replays real ESP tracking payloads (formats from Anymail's docs and test suite) through the
real /anymail/<esp>/tracking/ URLs and checks suppression, ledger and stats effects."""

from __future__ import annotations

import base64
import copy
import datetime
import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from subscriptions.addresses import address_hash
from subscriptions.feedback.reports import (
    Feedback,
    complaint_rate,
    feedback_record,
)
from subscriptions.models import (
    Campaign,
    ConsentEvent,
    Contact,
    Delivery,
    ProcessedWebhookEvent,
    SoftBounce,
    Subscription,
    Suppression,
)
from subscriptions.models.choices import FeedbackKind
from tests.factories import ContactFactory, SubscriptionFactory
from tests.webhook_signing import dumps, sendgrid_headers, sns_certificates, sns_signed

__all__ = ["sns_certificates"]  # a fixture, used by name

FIXTURES = Path(__file__).parents[1] / "fixtures" / "webhooks"
AUTH = "Basic " + base64.b64encode(b"test:webhook-secret").decode()
POSTMARK_MID = "883953f4-6105-42a2-a16a-77a8eac79483"
SES_MID = "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000"
SENDGRID_MID = "<14c5d75ce93.dfd.64b469@ismtpd-555>"

pytestmark = pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


def post_postmark(client, payload, auth=AUTH):
    return client.post(
        "/anymail/postmark/tracking/",
        data=json.dumps(payload) if not isinstance(payload, str) else payload,
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )


def post_sendgrid(client, payload, auth=AUTH, **headers):
    """Post to SendGrid's webhook, signed with the test key unless signature headers are given."""
    body = dumps(payload)
    if not headers:
        headers = sendgrid_headers(body)
    return client.post(
        "/anymail/sendgrid/tracking/",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
        **headers,
    )


def post_ses(client, sns_message, auth=AUTH, sign=True):
    """Post an SNS message to SES's webhook, signed with the test SNS certificate by default."""
    if sign:
        sns_message = sns_signed(sns_message)
    headers = {
        "HTTP_X_AMZ_SNS_MESSAGE_TYPE": sns_message.get("Type", ""),
        "HTTP_X_AMZ_SNS_MESSAGE_ID": sns_message.get("MessageId", ""),
    }
    if auth:
        headers["HTTP_AUTHORIZATION"] = auth
    return client.post(
        "/anymail/amazon_ses/tracking/",
        data=json.dumps(sns_message),
        content_type="text/plain; charset=UTF-8",
        **headers,
    )


@pytest.fixture(autouse=True)
def _sns(sns_certificates):
    """Every SES post here is signed with the test certificate, served by the fake fetch."""
    return sns_certificates


@pytest.fixture
def sent_to(topic):
    """Factory: a subscribed contact with a sent delivery of a sending campaign."""
    campaign = Campaign.objects.create(name="Spring", topic=topic, subject="Hi", status="sending")

    def make(email: str, message_id: str) -> Delivery:
        contact = ContactFactory(email=email)
        SubscriptionFactory(contact=contact, topic=topic)
        return Delivery.objects.create(
            campaign=campaign, contact=contact, status="sent", esp_message_id=message_id
        )

    return make


def reasons(email: str) -> set[tuple[str, str]]:
    return set(
        Suppression.objects.filter(address_hash=address_hash(email)).values_list("reason", "scope")
    )


# --- Postmark --------------------------------------------------------------------------------


def test_it_suppresses_a_postmark_hard_bounce_and_marks_the_delivery(client, sent_to):
    delivery = sent_to("john@example.com", POSTMARK_MID)
    response = post_postmark(client, load("postmark/bounce_hard.json"))
    assert response.status_code == 200
    assert reasons("john@example.com") == {("hard_bounce", "all")}
    delivery.refresh_from_db()
    assert delivery.bounced_at is not None
    event = ConsentEvent.objects.get(contact=delivery.contact)
    assert (event.action, event.source, event.new_status) == (
        "suppressed",
        "esp_webhook",
        "hard_bounce",
    )
    assert Delivery.objects.filter(campaign=delivery.campaign).feedback_counts()["bounced"] == 1


def test_it_applies_the_same_event_only_once(client, sent_to):
    delivery = sent_to("john@example.com", POSTMARK_MID)
    payload = load("postmark/bounce_hard.json")
    assert post_postmark(client, payload).status_code == 200
    before = (ConsentEvent.objects.count(), Suppression.objects.count())
    Suppression.objects.all().delete()  # staff lifted it; a replay must not put it back
    assert post_postmark(client, payload).status_code == 200
    assert Suppression.objects.count() == 0
    assert ConsentEvent.objects.count() == before[0]
    assert ProcessedWebhookEvent.objects.filter(esp="Postmark").count() == 1
    assert Delivery.objects.filter(campaign=delivery.campaign).feedback_counts()["bounced"] == 1


def test_it_suppresses_after_three_soft_bounces_in_the_window(client, sent_to):
    sent_to("john@example.com", POSTMARK_MID)
    payload = load("postmark/bounce_soft.json")
    for n in range(2):
        payload["ID"] = 1000 + n
        assert post_postmark(client, payload).status_code == 200
    assert reasons("john@example.com") == set()
    assert SoftBounce.objects.count() == 2
    payload["ID"] = 1002
    assert post_postmark(client, payload).status_code == 200
    assert reasons("john@example.com") == {("soft_bounce_limit", "all")}


def test_it_unsubscribes_a_complainer_notes_the_campaign_and_pauses_it(client, sent_to):
    delivery = sent_to("john@example.com", POSTMARK_MID)
    response = post_postmark(client, load("postmark/spam_complaint.json"))
    assert response.status_code == 200
    assert reasons("john@example.com") == {
        ("complaint", "marketing"),
        ("unsubscribed_all", "marketing"),
    }
    complaint = Suppression.objects.get(reason="complaint")
    assert complaint.campaign_id == delivery.campaign_id
    assert Subscription.objects.get(contact=delivery.contact).status == "unsubscribed"
    sources = set(ConsentEvent.objects.values_list("source", flat=True))
    assert sources == {"esp_webhook"}
    actions = sorted(ConsentEvent.objects.values_list("action", flat=True))
    assert actions == ["suppressed", "unsubscribed", "unsubscribed_all"]
    # One complaint in one message sent is far above 0.3%: the campaign stops.
    delivery.campaign.refresh_from_db()
    assert delivery.campaign.status == "paused"
    assert Delivery.objects.filter(campaign=delivery.campaign).feedback_counts()["complained"] == 1


def test_it_records_delivery_open_and_click(client, sent_to):
    delivery = sent_to("john@example.com", POSTMARK_MID)
    for name in ("delivery", "open", "click"):
        assert post_postmark(client, load(f"postmark/{name}.json")).status_code == 200
    counts = Delivery.objects.filter(campaign=delivery.campaign).feedback_counts()
    assert (counts["delivered"], counts["opened"], counts["clicked"]) == (1, 1, 1)
    assert ConsentEvent.objects.count() == 0
    # Postmark sends no id with these: a replay is still recognised by its content.
    assert post_postmark(client, load("postmark/open.json")).status_code == 200
    assert ProcessedWebhookEvent.objects.count() == 3


def test_it_unsubscribes_from_all_on_the_esps_own_unsubscribe(client, sent_to):
    delivery = sent_to("john@example.com", POSTMARK_MID)
    assert post_postmark(client, load("postmark/subscription_change.json")).status_code == 200
    assert Subscription.objects.get(contact=delivery.contact).status == "unsubscribed"
    assert reasons("john@example.com") == {("unsubscribed_all", "marketing")}
    assert (
        Delivery.objects.filter(campaign=delivery.campaign).feedback_counts()["unsubscribed"] == 1
    )


# --- Amazon SES (SNS-wrapped) ----------------------------------------------------------------


def test_it_suppresses_an_ses_permanent_bounce(client, sent_to):
    delivery = sent_to("jane@example.com", SES_MID)
    assert post_ses(client, load("amazon_ses/bounce_permanent.json")).status_code == 200
    assert reasons("jane@example.com") == {("hard_bounce", "all")}
    assert reasons("mary@example.com") == set()  # only the bounced recipient
    delivery.refresh_from_db()
    assert delivery.bounced_at is not None
    assert ConsentEvent.objects.get().source == "esp_webhook"


def test_it_counts_an_ses_transient_bounce_as_soft(client, sent_to):
    sent_to("jane@example.com", SES_MID)
    assert post_ses(client, load("amazon_ses/bounce_transient.json")).status_code == 200
    assert reasons("jane@example.com") == set()
    assert SoftBounce.objects.filter(address_hash=address_hash("jane@example.com")).count() == 1


def test_it_handles_an_ses_complaint_and_delivery(client, sent_to):
    delivery = sent_to("jane@example.com", SES_MID)
    assert post_ses(client, load("amazon_ses/delivery.json")).status_code == 200
    assert post_ses(client, load("amazon_ses/complaint.json")).status_code == 200
    assert post_ses(client, load("amazon_ses/complaint.json")).status_code == 200  # replay
    assert ("complaint", "marketing") in reasons("jane@example.com")
    assert Subscription.objects.get(contact=delivery.contact).status == "unsubscribed"
    counts = Delivery.objects.filter(campaign=delivery.campaign).feedback_counts()
    assert (counts["delivered"], counts["complained"]) == (1, 1)
    assert ConsentEvent.objects.filter(action="unsubscribed_all").count() == 1


def test_it_asks_ses_for_basic_auth_and_refuses_a_mismatched_sns_header(client, sent_to):
    sent_to("jane@example.com", SES_MID)
    message = load("amazon_ses/bounce_permanent.json")
    assert post_ses(client, message, auth=None).status_code == 401
    response = client.post(
        "/anymail/amazon_ses/tracking/",
        data=json.dumps(sns_signed(message)),
        content_type="text/plain",
        HTTP_AUTHORIZATION=AUTH,
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        HTTP_X_AMZ_SNS_MESSAGE_ID="forged-id",
    )
    assert response.status_code == 403
    assert Suppression.objects.count() == 0


# --- SendGrid --------------------------------------------------------------------------------


def test_it_handles_a_sendgrid_batch_once(client, sent_to):
    delivery = sent_to("example@test.com", SENDGRID_MID)
    payload = load("sendgrid/engagement_and_complaint.json")
    assert post_sendgrid(client, payload).status_code == 200
    counts = Delivery.objects.filter(campaign=delivery.campaign).feedback_counts()
    assert {k: counts[k] for k in ("delivered", "opened", "clicked", "complained")} == {
        "delivered": 1,
        "opened": 1,
        "clicked": 1,
        "complained": 1,
    }
    ledger = ConsentEvent.objects.count()
    assert post_sendgrid(client, payload).status_code == 200
    assert ConsentEvent.objects.count() == ledger
    assert ProcessedWebhookEvent.objects.filter(esp="SendGrid").count() == 4  # not "processed"


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("sendgrid/bounce.json", {("hard_bounce", "all")}),
        ("sendgrid/dropped_invalid.json", {("invalid", "all")}),
        ("sendgrid/blocked_bounce.json", set()),
        ("sendgrid/deferred.json", set()),
    ],
)
def test_it_maps_sendgrid_failures(client, sent_to, fixture, expected):
    sent_to("bounce@test.com", SENDGRID_MID)
    assert post_sendgrid(client, load(fixture)).status_code == 200
    assert reasons("bounce@test.com") == expected


def test_it_checks_the_sendgrid_signature(client, sent_to, settings):
    sent_to("bounce@test.com", SENDGRID_MID)
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": "".join(public.decode().splitlines()[1:-1]),
    }
    body = json.dumps(load("sendgrid/bounce.json"))
    stamp = str(int(time.time()))
    good = base64.b64encode(key.sign((stamp + body).encode(), ec.ECDSA(hashes.SHA256())))
    forged = base64.b64encode(key.sign(b"something else", ec.ECDSA(hashes.SHA256())))
    wrong = post_sendgrid(
        client,
        body,
        HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE=forged.decode(),
        HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP=stamp,
    )
    assert wrong.status_code == 403
    assert Suppression.objects.count() == 0
    right = post_sendgrid(
        client,
        body,
        HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE=good.decode(),
        HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP=stamp,
    )
    assert right.status_code == 200
    assert reasons("bounce@test.com") == {("hard_bounce", "all")}


# --- bad input -------------------------------------------------------------------------------


def test_it_refuses_wrong_basic_auth(client, sent_to):
    sent_to("john@example.com", POSTMARK_MID)
    wrong = "Basic " + base64.b64encode(b"test:guess").decode()
    assert post_postmark(client, load("postmark/bounce_hard.json"), auth=wrong).status_code == 401
    assert post_sendgrid(client, load("sendgrid/bounce.json"), auth="").status_code == 401
    assert Suppression.objects.count() == 0
    assert ProcessedWebhookEvent.objects.count() == 0


@pytest.mark.parametrize("body", ['{"RecordType": "Bounce",', "\xff\xfe not json", "[1, 2"])
def test_it_answers_400_to_malformed_json(client, db, body):
    assert post_postmark(client, body).status_code == 400
    assert post_sendgrid(client, body).status_code == 400
    response = client.post(
        "/anymail/amazon_ses/tracking/",
        data=body,
        content_type="text/plain",
        HTTP_AUTHORIZATION=AUTH,
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        HTTP_X_AMZ_SNS_MESSAGE_ID="x",
    )
    assert response.status_code == 400


def test_it_answers_400_to_json_of_the_wrong_shape(client, db):
    assert post_sendgrid(client, {"event": "bounce"}).status_code == 400
    assert post_sendgrid(client, [{"no": "event"}]).status_code == 400
    assert post_sendgrid(client, [42]).status_code == 400


def test_it_ignores_unknown_event_types(client, sent_to):
    sent_to("john@example.com", POSTMARK_MID)
    assert post_postmark(client, load("postmark/unknown_record_type.json")).status_code == 200
    assert post_sendgrid(client, load("sendgrid/unknown_event.json")).status_code == 200
    assert ProcessedWebhookEvent.objects.count() == 0
    assert ConsentEvent.objects.count() == 0


def test_it_accepts_and_ignores_unknown_messages_and_addresses(client, db):
    for name in ("delivery", "open", "spam_complaint", "subscription_change"):
        payload = load(f"postmark/{name}.json")
        payload["MessageID"] = "unknown"
        payload["Recipient" if "Recipient" in payload else "Email"] = "not an address"
        assert post_postmark(client, payload).status_code == 200
    bounce = load("postmark/bounce_hard.json")
    bounce["Email"] = "stranger@example.org"
    assert post_postmark(client, bounce).status_code == 200
    assert ConsentEvent.objects.count() == 0
    assert Delivery.objects.count() == 0
    # The address itself bounced: transactional mail to it would bounce too.
    assert reasons("stranger@example.org") == {("hard_bounce", "all")}


def test_it_refuses_a_huge_body(client, db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    events = [copy.deepcopy(load("sendgrid/bounce.json")[0]) for _ in range(6000)]
    body = json.dumps(events)
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert post_sendgrid(client, body).status_code == 400
    assert Suppression.objects.count() == 0


def test_it_warns_but_keeps_sending_at_a_low_complaint_rate(client, sent_to):
    delivery = sent_to("john@example.com", POSTMARK_MID)
    others = Contact.objects.bulk_create(
        Contact(
            email=f"p{n}@example.com",
            email_key=f"p{n}@example.com",
            address_hash=f"hash-{n}",
        )
        for n in range(999)
    )
    Delivery.objects.bulk_create(
        Delivery(campaign=delivery.campaign, contact=contact, status="sent") for contact in others
    )
    assert post_postmark(client, load("postmark/spam_complaint.json")).status_code == 200
    rate = complaint_rate(delivery.campaign)
    assert (rate.sent, rate.complained, rate.level) == (1000, 1, "warn")
    delivery.campaign.refresh_from_db()
    assert delivery.campaign.status == "sending"


def test_it_counts_soft_bounces_only_within_the_window(db):
    start = timezone.now() - datetime.timedelta(days=100)

    def soft_bounce_on(day: int) -> None:
        feedback_record(
            feedback=Feedback(
                esp="Postmark",
                kind=FeedbackKind.SOFT_BOUNCE,
                recipient="slow@example.com",
                event_id=f"soft-{day}",
                occurred_at=start + datetime.timedelta(days=day),
            )
        )

    for day in (0, 31, 62, 70):
        soft_bounce_on(day)
    assert reasons("slow@example.com") == set()  # never three within 30 days
    soft_bounce_on(80)  # 62, 70, 80
    assert reasons("slow@example.com") == {("soft_bounce_limit", "all")}


def test_it_answers_400_to_malformed_json_sent_as_a_form(client, db):
    response = client.post(
        "/anymail/postmark/tracking/",
        data="RecordType=Bounce",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=AUTH,
    )
    assert response.status_code == 400


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
postmark_like = st.fixed_dictionaries(
    {
        "RecordType": st.sampled_from(["Bounce", "Delivery", "Open", "SpamComplaint", "Click"]),
        "Type": st.sampled_from(["HardBounce", "SoftBounce", "SpamComplaint", "Transient"]),
        "Email": st.sampled_from(["john@example.com", "", "x@", "@@"]) | st.text(max_size=30),
        "Recipient": json_values,
        "MessageID": json_values,
        "ID": json_values,
        "BouncedAt": st.sampled_from(["2019-11-05T16:33:54Z", "yesterday", ""]),
    }
)


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=json_values | postmark_like)
def test_it_never_answers_500_to_any_json(client, sent_to_john, payload):
    assert post_postmark(client, payload).status_code in (200, 400)
    assert post_sendgrid(client, payload).status_code in (200, 400)
    assert post_sendgrid(client, [payload]).status_code in (200, 400)


def test_it_accepts_nul_characters_in_a_payload(client, sent_to):
    # PostgreSQL text cannot hold NUL: the event is applied with them dropped, not a 500.
    sent_to("john@example.com", POSTMARK_MID)
    payload = load("postmark/bounce_hard.json")
    payload.update(
        {"ID": f"{payload['ID']}\x00", "Description": "bad\x00box", "MessageID": "\x00x"}
    )
    assert post_postmark(client, payload).status_code == 200
    assert reasons("john@example.com") == {("hard_bounce", "all")}
    assert "\x00" not in ProcessedWebhookEvent.objects.get().event_id


@pytest.fixture
def sent_to_john(sent_to):
    return sent_to("john@example.com", POSTMARK_MID)


def test_it_needs_no_csrf_token(sent_to):
    sent_to("john@example.com", POSTMARK_MID)
    client = Client(enforce_csrf_checks=True)
    assert post_postmark(client, load("postmark/bounce_hard.json")).status_code == 200
    assert reasons("john@example.com") == {("hard_bounce", "all")}
