"""Erasure leaves no copy (issue 9, road 7), proven on a real `pg_dump` of the whole database.

A contact goes through everything the product does with a person — the sign-up form, the
confirmation link, a campaign, a transactional mail, ESP webhooks (a soft bounce, a hard bounce
and a complaint, whose texts quote the address), an edit through the admin UI and an export —
and is then erased through the API. The dump of the whole test database must then hold none of
their address, name, external id, IP or user agent.
"""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection, transaction
from django.urls import reverse

from subscriptions.campaigns import sending
from subscriptions.campaigns.audience import campaign_build_audience
from subscriptions.consent.ledger import minimise_ip
from subscriptions.feedback.reports import Feedback, feedback_record
from subscriptions.mail.transactional import deliver
from subscriptions.models import (
    Campaign,
    Contact,
    Delivery,
    ProcessedWebhookEvent,
    SoftBounce,
    Suppression,
    TransactionalMessage,
)
from subscriptions.models.choices import CampaignStatus, FeedbackKind
from subscriptions.redaction import redact_identifiers
from tests.feedback.test_webhooks import AUTH, load
from tests.form_tasks import run_queued_form_tasks
from tests.support.api import api, api_key

__all__ = ["api", "api_key"]  # fixtures, used by name

EMAIL = "Zelda.Quill-7731@Example.org"
NAME = "Zelda Quillfeather"
EXTERNAL_ID = "host-user-88412"
IP = "203.0.113.77"
USER_AGENT = "QuillBrowser/9.3 (erasure-test; ZQ)"
SECRETS = {
    "address": EMAIL,
    "local part": EMAIL.split("@")[0],
    "name": NAME,
    "external id": EXTERNAL_ID,
    "IP": IP,
    "minimised IP": minimise_ip(IP),
    "user agent": USER_AGENT,
}


def pg_dump() -> str:
    """A plain-text dump of the whole test database (schema and data), as pg_dump writes it."""
    db = connection.settings_dict
    command = ["pg_dump", "--no-owner", "-h", db["HOST"] or "127.0.0.1", "-U", db["USER"]]
    if db.get("PORT"):
        command += ["-p", str(db["PORT"])]
    env = {"PGPASSWORD": db.get("PASSWORD") or "", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [*command, db["NAME"]], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    return result.stdout


def found_in(dump: str) -> set[str]:
    lowered = dump.lower()
    return {what for what, value in SECRETS.items() if value and value.lower() in lowered}


class FormScraper(HTMLParser):
    """The fields a browser would submit from the page's first POST form with `form_id`."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside, self.data = form_id, False, []
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            checkable = a.get("type") in ("checkbox", "radio")
            self.data.append([a["name"], a.get("value") or ("on" if checkable else "")])
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.data.append([self._select, a.get("value", "")])
        elif tag == "textarea":
            self._textarea = [a.get("name"), ""]
            self.data.append(self._textarea)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def admin_edit(client, contact: Contact, **changes) -> None:
    """Change `contact` through the admin's change form, as staff would in a browser."""
    url = reverse("admin:subscriptions_contact_change", args=[contact.pk])
    page = client.get(url)
    assert page.status_code == 200
    scraper = FormScraper("contact_form")
    scraper.feed(page.content.decode())
    data = {}
    for name, value in scraper.data:
        data[name] = value.strip("\n") if name == "attributes" else value
    data.update(changes)
    data["_save"] = "Save"
    response = client.post(url, data)
    errors = re.findall(r"<ul class=\"errorlist[^>]*>.*?</ul>", response.content.decode(), re.S)
    assert response.status_code == 302, (errors, data)


def deliver_queued() -> None:
    """What the transactional worker does: send every queued system message."""
    for pk in TransactionalMessage.objects.filter(status="queued").values_list("pk", flat=True):
        deliver(pk)


def ip_client(client):
    client.defaults.update(REMOTE_ADDR=IP, HTTP_USER_AGENT=USER_AGENT)
    return client


@pytest.mark.django_db(transaction=True)
def test_it_leaves_no_copy_of_an_erased_contact_in_a_pg_dump(client, api, topic, settings):
    client = ip_client(client)
    mail.outbox = []

    # Sign-up form and confirmation link, from the person's browser.
    # The form queues its work on commit; holding the commit lets the test run that task itself
    # (as the transactional worker would) instead of it going to the broker.
    with transaction.atomic():
        response = client.post(
            "/subscribe/",
            {"email": EMAIL, "topics": [topic.pk], "consent": "on", "age_confirmed": "on"},
        )
        assert response.status_code == 200
        assert run_queued_form_tasks() == 1
    deliver_queued()
    link = re.search(r"https?://\S+/confirm/\S+/", mail.outbox[-1].body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert client.post("/" + path).status_code == 200
    contact = Contact.objects.get(email_key=EMAIL.lower())
    assert contact.subscriptions.get().status == "subscribed"

    # The host product tells us their id and name; an API export.
    api.client.defaults.update(REMOTE_ADDR=IP, HTTP_USER_AGENT=USER_AGENT)
    answer = api.post(
        "/api/v1/contacts/",
        {"email": EMAIL, "external_id": EXTERNAL_ID, "attributes": {"name": NAME}},
    )
    assert answer.status_code == 200, answer.content
    assert api.post(f"/api/v1/contacts/{contact.pk}/export/").status_code == 200

    # A campaign and a transactional mail.
    campaign = Campaign.objects.create(
        name="Spring",
        topic=topic,
        subject="Hi {{ contact.attributes.name }}",
        text_body="Hello {{ contact.attributes.name }}",
        html_body="<p>Hello {{ contact.attributes.name }}</p>",
        status=CampaignStatus.SENDING,
    )
    campaign_build_audience(campaign=campaign)
    sending.send_until_done(campaign=campaign)
    delivery = Delivery.objects.get(campaign=campaign, contact=contact)
    assert delivery.status == "sent"
    # A marketer test-sends the campaign to the person's own mailbox (the send is logged).
    tested = api.post(f"/api/v1/campaigns/{campaign.pk}/test/", {"to": [EMAIL]})
    assert tested.status_code == 202, tested.content
    sent = api.post(
        "/api/v1/transactional/",
        {"to": EMAIL, "subject": f"Receipt for {NAME}", "text_body": f"Dear {NAME}, thanks."},
    )
    assert sent.status_code == 202, sent.content
    deliver_queued()

    # ESP webhooks: a soft bounce, a hard bounce and a complaint, each quoting the address.
    def postmark(fixture: str, **fields) -> None:
        payload = {**load(fixture), "MessageID": delivery.esp_message_id, **fields}
        response = client.post(
            "/anymail/postmark/tracking/",
            data=json.dumps(payload),
            content_type="application/json",
            HTTP_AUTHORIZATION=AUTH,
        )
        assert response.status_code == 200

    quoting = f"550 5.1.1 <{EMAIL}>: mailbox of {EMAIL.split('@')[0]} unavailable"
    postmark("postmark/bounce_soft.json", Email=EMAIL, Details=quoting, Description=quoting)
    postmark("postmark/bounce_hard.json", Email=EMAIL, Details=quoting, Description=quoting)
    postmark("postmark/spam_complaint.json", Email=EMAIL)
    assert SoftBounce.objects.count() == 1
    assert Suppression.objects.filter(reason="hard_bounce").exists()

    # Staff edit the contact through the admin UI.
    staff = get_user_model().objects.create_superuser("sam", "sam@staff.example", "pw-sam-123")
    admin = ip_client(type(client)())
    admin.force_login(staff)
    admin_edit(admin, contact, attributes=json.dumps({"name": NAME, "vip": True}))

    # Everything is in the database now: the search below can find what it looks for.
    assert found_in(pg_dump()) >= {"address", "name", "external id", "minimised IP", "user agent"}

    assert api.delete(f"/api/v1/contacts/{contact.pk}/").status_code == 204

    assert found_in(pg_dump()) == set()
    # The facts stay: the suppressions and the dedupe keys still work for the address.
    assert Suppression.objects.filter(reason="erased").exists()
    assert ProcessedWebhookEvent.objects.count() == 3


def test_it_keys_webhook_dedupe_with_the_suppression_key(db, settings):
    feedback = Feedback(esp="Postmark", kind=FeedbackKind.SOFT_BOUNCE, recipient="ann@example.com")
    key = feedback.dedupe_key()
    assert "ann" not in key and re.fullmatch(r"[0-9a-f]{64}", key)
    settings.SUPPRESSION_HASH_KEY = "another key"
    assert feedback.dedupe_key() != key  # keyed: nobody without the key can test an address


def test_it_stores_esp_texts_with_the_address_redacted(db):
    feedback_record(
        feedback=Feedback(
            esp="Postmark",
            kind=FeedbackKind.HARD_BOUNCE,
            recipient="ann.lee@example.com",
            event_id="e1",
            description="550 <Ann.Lee@Example.com>: user ann.lee unknown; see bob@example.net",
        )
    )
    note = Suppression.objects.get().note
    assert "ann.lee" not in note.lower() and "bob@" not in note
    assert "550" in note and "unknown" in note


def test_it_redacts_addresses_identifiers_and_local_parts():
    text = "to <ann@example.com> (Ann Lee, id crm-42): mailbox ann full; annual quota"
    assert redact_identifiers(text, identifiers=["ann@example.com", "Ann Lee", "crm-42"]) == (
        "to <[address]> ([redacted], id [redacted]): mailbox [redacted] full; annual quota"
    )


def test_it_rewrites_the_admin_log_of_an_erased_contact(admin_client, api, alice):
    admin_edit(admin_client, alice, external_id="crm-4242")
    entry = LogEntry.objects.get()
    assert entry.object_repr == "alice@example.com"
    assert api.delete(f"/api/v1/contacts/{alice.pk}/").status_code == 204
    entry.refresh_from_db()
    assert entry.object_repr == f"erased contact #{alice.pk}"
    assert "alice" not in entry.change_message


def test_the_migration_hashes_stored_dedupe_keys_and_redacts_stored_texts(db, alice):
    migration = import_module("subscriptions.migrations.0013_erasure_leaves_no_copy")
    raw = "4323372036854775001|ann@example.com"
    ProcessedWebhookEvent.objects.create(esp="Postmark", event_id=raw, event_type="hard_bounce")
    Suppression.objects.create(
        address_hash="h" * 64, reason="hard_bounce", note="Postmark: 550 <ann@example.com> gone"
    )
    SoftBounce.objects.create(address_hash="h" * 64, description="full: ann@example.com")
    migration.forwards(apps, None)
    # The same key a new event gets: a replay of an event seen before the upgrade still dedupes.
    assert (
        ProcessedWebhookEvent.objects.get().event_id
        == Feedback(
            esp="Postmark",
            kind=FeedbackKind.HARD_BOUNCE,
            recipient="ann@example.com",
            event_id=raw.split("|")[0],
        ).dedupe_key()
    )
    assert Suppression.objects.get().note == "Postmark: 550 <[address]> gone"
    assert SoftBounce.objects.get().description == "full: [address]"
