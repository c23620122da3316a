"""The set-based import pipeline: modes, idempotence, the ledger chain, what a file may look like."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from django.db import connection

from subscriptions.addresses import address_hash
from subscriptions.consent.importing import ImportFileError, import_run, import_start
from subscriptions.consent.ledger import Actor, ledger_verify
from subscriptions.models import ConsentEvent, Contact, Import, Subscription, Suppression
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

STAFF = Actor(source="admin")


def run_import(content: bytes, *, topic=None, mode="subscribe", **options) -> Import:
    run = import_start(
        file=io.BytesIO(content),
        filename="list.csv",
        mode=mode,
        topic=topic,
        source=options.pop("source", "crm"),
        actor=STAFF,
        run_async=False,
        **options,
    )
    return import_run(run.pk)


def test_a_second_run_of_the_same_file_changes_nothing(topic):
    content = b"email,first_name,locale\nann@example.com,Ann,da\nbob@example.com,Bob,en\n"
    first = run_import(content, topic=topic)
    assert first.counts["subscribed"] == 2
    ledger = list(ConsentEvent.objects.values_list("id", flat=True))
    updated = list(Contact.objects.order_by("pk").values_list("updated_at", flat=True))
    second = run_import(content, topic=topic)
    assert second.status == "done"
    assert second.counts.get("subscribed", 0) == 0 and second.counts["already_subscribed"] == 2
    assert second.counts["updated"] == 0 and second.counts["created"] == 0
    assert list(ConsentEvent.objects.values_list("id", flat=True)) == ledger
    assert list(Contact.objects.order_by("pk").values_list("updated_at", flat=True)) == updated


def test_the_ledger_chain_verifies_after_an_import(topic, alice):
    Subscription.objects.create(contact=alice, topic=topic, status="pending")
    content = (
        b"email\n" + b"".join(b"p%d@example.com\n" % n for n in range(30)) + b"alice@example.com\n"
    )
    run = run_import(content, topic=topic)
    assert run.counts["subscribed"] == 31
    assert ledger_verify() == []
    event = ConsentEvent.objects.get(contact=alice)
    assert (event.old_status, event.new_status, event.source) == ("pending", "subscribed", "import")
    assert event.prev_hash == "" and len(event.hash) == 64


def test_duplicates_in_any_case_or_quoted_form_are_one_contact_the_last_row_winning(topic):
    content = (
        b'email,first_name\nAnn@Example.com,First\n"ann"@example.com,Second\nANN@EXAMPLE.COM,Last\n'
    )
    run = run_import(content, topic=topic)
    contact = Contact.objects.get()
    assert contact.attributes == {"first_name": "Last"}
    assert run.counts["duplicate"] == 2 and run.counts["subscribed"] == 1
    assert list(run.row_errors.values_list("line", "outcome", "detail")) == [
        (2, "duplicate", "same address as line 4"),
        (3, "duplicate", "same address as line 4"),
    ]
    assert ConsentEvent.objects.count() == 1


@pytest.mark.parametrize("delimiter", [b";", b"\t", b","])
def test_it_sniffs_the_delimiter_and_reads_quoted_fields(topic, delimiter):
    content = (
        b"\xef\xbb\xbfemail" + delimiter + b"note\r\n"
        b"a@example.com" + delimiter + b'"says ""hi""' + delimiter + b' and\nbye"\r\n'
        b"b@example.com" + delimiter + b"x\r\n"
    )
    run = run_import(content, topic=topic)
    assert run.counts["subscribed"] == 2, list(run.row_errors.values_list("detail", flat=True))
    note = Contact.objects.get(email="a@example.com").attributes["note"]
    assert note == f'says "hi"{delimiter.decode()} and\nbye'


def test_a_dry_run_reports_what_would_happen_and_writes_nothing(topic, subscribed_alice):
    run = run_import(b"email\nalice@example.com\nnew@example.com\nbad\n", topic=topic, dry_run=True)
    assert run.status == "done" and run.dry_run
    counts = {k: run.counts.get(k, 0) for k in ("created", "subscribed", "already_subscribed")}
    assert counts == {"created": 1, "subscribed": 1, "already_subscribed": 1}
    assert list(run.row_errors.values_list("line", "outcome")) == [(4, "invalid")]
    assert Contact.objects.count() == 1 and ConsentEvent.objects.count() == 0


def test_an_erased_address_is_never_created_again(topic):
    suppression_email = "gone@example.com"
    Suppression.objects.create(
        address_hash=address_hash(suppression_email), reason="erased", scope="all"
    )
    run = run_import(b"email\nGone@Example.com\n", topic=topic)
    assert run.counts["kept_suppressed"] == 1 and not Contact.objects.exists()
    # The report keeps the line, never the address.
    assert list(run.row_errors.values_list("line", "email", "outcome")) == [
        (2, "", "kept_suppressed")
    ]


# Committed for real, so that pg_dump's own session sees what the import wrote.
@pytest.mark.django_db(transaction=True)
def test_suppression_list_mode_stores_hashes_only():
    known = ContactFactory(email="known@example.com")
    content = (
        b"email,reason\nsecret-one@example.com,unsub\nSECRET-TWO@example.com,cleaned\n"
        b"known@example.com,x\nsecret-one@example.com,again\nnot-an-address-secret,x\n"
    )
    run = run_import(content, mode="suppress", reason="unsubscribed_all", source="mailchimp")
    assert run.status == "done"
    assert (run.counts["suppressed"], run.counts["duplicate"], run.counts["invalid"]) == (3, 1, 1)
    assert set(Suppression.objects.values_list("address_hash", flat=True)) == {
        address_hash("secret-one@example.com"),
        address_hash("secret-two@example.com"),
        address_hash("known@example.com"),
    }
    event = ConsentEvent.objects.get(contact=known)
    assert (event.action, event.new_status) == ("unsubscribed_all", "unsubscribed_all")
    assert not Contact.objects.exclude(pk=known.pk).exists()
    assert set(run.row_errors.values_list("email", flat=True)) == {""}
    # Nowhere in the database: a dump of it holds neither address (nor the invalid text).
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed: apt-get install postgresql-client"
    db = connection.settings_dict
    dump = subprocess.run(
        [
            pg_dump,
            "--data-only",
            "-h",
            db["HOST"] or "127.0.0.1",
            "-p",
            str(db["PORT"] or 5432),
            "-U",
            db["USER"],
            db["NAME"],
        ],
        capture_output=True,
        env={"PGPASSWORD": db["PASSWORD"] or "", "PATH": "/usr/bin:/bin"},
        check=True,
    ).stdout.lower()
    assert b"known@example.com" in dump  # the dump does see this transaction's rows
    assert b"secret-one" not in dump and b"secret-two" not in dump


def test_attributes_mode_updates_existing_contacts_only(alice):
    run = run_import(
        b"email,plan,locale\nalice@example.com,pro,da\nnobody@example.com,free,en\n",
        mode="attributes",
    )
    alice.refresh_from_db()
    assert (alice.attributes, alice.locale) == ({"plan": "pro"}, "da")
    assert not Contact.objects.filter(email="nobody@example.com").exists()
    assert (run.counts["updated"], run.counts["unchanged"], run.counts["not_found"]) == (1, 0, 1)
    assert not Subscription.objects.exists() and not ConsentEvent.objects.exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("email\nz\u00f6e@example.com\n".encode("utf-16"), "UTF-8"),
        (b"name,first\nAnn,x\n", "Missing header"),
        (b"em\x00ail\na@example.com\n", "NUL"),
        (b"email," + b",".join(b"c%d" % n for n in range(2000)) + b"\n", "columns"),
    ],
)
def test_a_bad_file_is_refused_before_anything_is_stored(topic, content, words):
    with pytest.raises(ImportFileError, match=words):
        run_import(content, topic=topic)
    assert not Import.objects.exists()


def test_a_run_whose_worker_died_no_longer_blocks_its_topic(topic):
    dead = Import.objects.create(
        topic=topic, source="crm", status="running", committed_through_line=50_001
    )
    run = run_import(b"email\na@example.com\n", topic=topic)
    assert run.status == "done" and run.counts["subscribed"] == 1
    dead.refresh_from_db()
    assert dead.status == "failed" and "up to line 50001 is imported" in dead.error


def test_a_second_import_of_a_topic_is_refused_while_one_is_queued(topic):
    import_start(
        file=io.BytesIO(b"email\na@example.com\n"),
        filename="one.csv",
        mode="subscribe",
        topic=topic,
        source="crm",
        actor=STAFF,
        run_async=False,
    )
    with pytest.raises(ImportFileError, match="still queued"):
        run_import(b"email\nb@example.com\n", topic=topic)
    assert Import.objects.count() == 1
