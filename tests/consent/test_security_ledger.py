"""Road 9: a ledger that proves itself, attacked over real connections.

The tests' own connection is the app role (tests/support/database.py): what it cannot do, the
app cannot do. The owner connection plays a DBA who goes around every guard; then
`verify_ledger` must name the break and exit non-zero.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from subscriptions.consent.ledger import Actor, ledger_checkpoint, ledger_verify, record, row_digest
from subscriptions.consent.subscriptions import subscription_unsubscribe
from subscriptions.management.database_roles import database_role_warnings
from subscriptions.models import ConsentEvent, Contact, LedgerCheckpoint
from subscriptions.models.ledger import HASHED_FIELDS
from subscriptions.privacy.erasure import contact_erase
from tests.factories import ContactFactory, SubscriptionFactory, TopicFactory
from tests.support.database import APP_ROLE, OWNER_ROLE, ROLES, database_url

ROOT = Path(__file__).resolve().parents[2]
LEDGER = "subscriptions_consentevent"
APPEND_ONLY_TRIGGER = "subscriptions_consentevent_append_only"
LONG_AGO = datetime.datetime(2018, 1, 1, tzinfo=datetime.UTC)


def refused(sql: str, params=()) -> DatabaseError:
    """Run `sql` as the app role in a savepoint; it must fail. Returns the error."""
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql, params)
    return caught.value


@pytest.fixture
def history(subscribed_alice, topic, actor):
    """Alice's ledger: unsubscribed, then subscribed again by her own confirmation."""
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=actor)
    record(
        contact=subscribed_alice,
        topic=topic,
        action="subscribed",
        by=Actor(source="confirmation", ip_address="203.0.113.9", user_agent="UA", evidence="e"),
        old_status="unsubscribed",
        new_status="subscribed",
    )
    return list(ConsentEvent.objects.filter(contact=subscribed_alice).order_by("id"))


# --- the app role cannot rewrite history -------------------------------------------------------


def test_it_runs_the_tests_as_an_app_role_that_neither_owns_the_ledger_nor_is_superuser(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, tableowner FROM pg_roles, pg_tables "
            "WHERE rolname = current_user AND tablename = %s",
            [LEDGER],
        )
        user, superuser, owner = cursor.fetchone()
    assert (user, superuser, owner) == (APP_ROLE, False, OWNER_ROLE)
    assert database_role_warnings() == []  # what verify_ledger would warn about


def test_it_refuses_truncate_to_the_app_role(history):
    assert "permission denied" in str(refused("TRUNCATE subscriptions_consentevent"))
    assert "permission denied" in str(refused("TRUNCATE subscriptions_consentevent CASCADE"))
    assert ConsentEvent.objects.count() == 2


def test_it_refuses_disabling_or_dropping_the_triggers(history):
    for sql in (
        f"ALTER TABLE subscriptions_consentevent DISABLE TRIGGER {APPEND_ONLY_TRIGGER}",
        "ALTER TABLE subscriptions_consentevent DISABLE TRIGGER ALL",
        "ALTER TABLE subscriptions_consentevent DISABLE TRIGGER subscriptions_consentevent_chain",
        f"DROP TRIGGER {APPEND_ONLY_TRIGGER} ON subscriptions_consentevent",
        "DROP TRIGGER subscriptions_consentevent_no_truncate ON subscriptions_consentevent",
        "DROP FUNCTION subscriptions_consentevent_append_only() CASCADE",
        "ALTER TABLE subscriptions_consentevent ALTER COLUMN created_at DROP DEFAULT",
        f"ALTER TABLE subscriptions_consentevent OWNER TO {APP_ROLE}",
        "SET session_replication_role = replica",
    ):
        error = str(refused(sql))
        assert "must be owner" in error or "permission denied" in error, sql


def test_it_refuses_delete_and_fact_updates_to_the_app_role(history):
    first = history[0]
    assert "permission denied" in str(
        refused("DELETE FROM subscriptions_consentevent WHERE id = %s", [first.pk])
    )
    for column, value in (
        ("new_status", "subscribed"),
        ("created_at", LONG_AGO),
        ("hash", "0" * 64),
        ("contact_id", history[1].contact_id),
    ):
        update = f"UPDATE subscriptions_consentevent SET {column} = %s WHERE id = %s"  # noqa: S608
        error = refused(update, [value, first.pk])
        assert "permission denied" in str(error), column
    first.refresh_from_db()
    assert (first.new_status, first.hash) == ("unsubscribed", history[0].hash)


def test_it_stamps_created_at_itself_whatever_the_insert_says(subscribed_alice, topic):
    before = timezone.now()
    orm = ConsentEvent.objects.create(
        contact=subscribed_alice,
        topic=topic,
        action="subscribed",
        source="import",
        created_at=LONG_AGO,
        hash="f" * 64,
        prev_hash="",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO subscriptions_consentevent (id, contact_id, action, old_status, new_status, source, "
            "policy_version, wording, user_agent, evidence, actor, created_at, xact_id, "
            "prev_hash, hash) VALUES (999999, %s, 'subscribed', '', 'subscribed', 'import', "
            "'', '', '', '', '', %s, 1, '', %s) RETURNING id",
            [subscribed_alice.pk, LONG_AGO, "f" * 64],
        )
        raw_id = cursor.fetchone()[0]
    raw = ConsentEvent.objects.get(pk=raw_id)
    assert raw_id != 999999
    for event in (orm, ConsentEvent.objects.get(pk=orm.pk), raw):
        assert event.created_at >= before
        assert event.hash != "f" * 64
    assert raw.prev_hash == orm.hash  # chained after the ORM row, not where it asked to be
    assert ledger_verify() == []


# --- the chain ---------------------------------------------------------------------------------


def test_the_trigger_and_verification_hash_the_same_facts(alice, topic):
    staff = get_user_model().objects.create_user("marketer")
    event = record(
        contact=alice,
        topic=topic,
        action="subscribed",
        by=Actor(source="admin", staff_user=staff, wording="Ja tak — nyheder 📬", evidence="x"),
        old_status="",
        new_status="subscribed",
    )
    stored = ConsentEvent.objects.values(*HASHED_FIELDS, "hash").get(pk=event.pk)
    assert stored["hash"] == event.hash == row_digest(stored)
    assert len(stored["hash"]) == 64


def test_it_chains_each_contact_on_its_own(history, alice, topic, actor):
    bob = ContactFactory(email="bob@example.com")
    SubscriptionFactory(contact=bob, topic=topic)
    subscription_unsubscribe(contact=bob, topic=topic, by=actor)
    first, second = history
    assert first.prev_hash == ""
    assert second.prev_hash == first.hash
    assert ConsentEvent.objects.get(contact=bob).prev_hash == ""


def test_it_chains_set_based_inserts_too(alice, topic):
    """A bulk insert (an import, a data migration) goes through the same trigger."""
    ConsentEvent.objects.bulk_create(
        ConsentEvent(contact=alice, topic=topic, action="subscribed", source="import")
        for _ in range(3)
    )
    events = list(ConsentEvent.objects.filter(contact=alice).order_by("id"))
    assert [e.prev_hash for e in events] == ["", events[0].hash, events[1].hash]
    assert ledger_verify() == []


def test_erasure_blanks_personal_fields_and_keeps_the_chain_valid(history, subscribed_alice):
    contact_erase(contact=subscribed_alice, by=Actor(source="admin"))
    rows = ConsentEvent.objects.filter(contact=subscribed_alice)
    assert not rows.exclude(user_agent="").exists()
    assert not rows.exclude(evidence="").exists()
    assert not rows.filter(ip_address__isnull=False).exists()
    assert ledger_verify() == []


# --- a DBA goes around the guards: verify_ledger names the break -----------------------------


def behind_the_trigger(owner, sql: str, params=()) -> None:
    owner.execute("ALTER TABLE subscriptions_consentevent DISABLE TRIGGER USER")
    try:
        owner.execute(sql, params)
    finally:
        owner.execute("ALTER TABLE subscriptions_consentevent ENABLE TRIGGER USER")


def verify() -> tuple[str, bool]:
    out = StringIO()
    try:
        call_command("verify_ledger", "--no-progress", stdout=out)
    except CommandError:
        return out.getvalue(), False
    return out.getvalue(), True


@pytest.fixture
def committed_history(transactional_db):
    topic = TopicFactory(slug="product-news")
    alice = ContactFactory(email="alice@example.com")
    SubscriptionFactory(contact=alice, topic=topic)
    for source in ("api", "confirmation", "one_click", "confirmation"):
        action = "unsubscribed" if source in ("api", "one_click") else "subscribed"
        record(
            contact=alice, topic=topic, action=action, by=Actor(source=source), new_status=action
        )
    events = list(ConsentEvent.objects.filter(contact=alice).order_by("id"))
    assert len(events) == 4
    output, intact = verify()
    assert intact, output
    return alice, events


def test_verify_ledger_reports_a_deleted_row(owner, committed_history):
    alice, events = committed_history
    behind_the_trigger(
        owner, "DELETE FROM subscriptions_consentevent WHERE id = %s", [events[1].pk]
    )
    output, intact = verify()
    assert not intact
    assert f"contact {alice.pk}, row {events[2].pk}: deleted" in output


def test_verify_ledger_reports_an_altered_fact(owner, committed_history):
    alice, events = committed_history
    behind_the_trigger(
        owner,
        "UPDATE subscriptions_consentevent SET new_status = 'pending' WHERE id = %s",
        [events[3].pk],
    )
    output, intact = verify()
    assert not intact
    assert f"contact {alice.pk}, row {events[3].pk}: altered" in output


def test_verify_ledger_reports_a_back_dated_row_even_with_a_recomputed_hash(
    owner, committed_history
):
    """The DBA inserts a row for 2018 at the chain's end and computes a valid hash for it."""
    alice, events = committed_history
    forged = {name: getattr(events[3], name) for name in HASHED_FIELDS}
    forged |= {"id": events[3].pk + 1000, "created_at": LONG_AGO, "prev_hash": events[3].hash}
    forged |= {"action": "subscribed", "new_status": "subscribed", "old_status": "unsubscribed"}
    behind_the_trigger(
        owner,
        "INSERT INTO subscriptions_consentevent (id, contact_id, topic_id, action, old_status, new_status, source,"
        " policy_version, wording, user_agent, evidence, actor, created_at, xact_id, prev_hash,"
        " hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '', '', '', '', %s, %s, %s, %s)",
        [
            forged["id"],
            alice.pk,
            forged["topic_id"],
            forged["action"],
            forged["old_status"],
            forged["new_status"],
            forged["source"],
            forged["policy_version"],
            LONG_AGO,
            events[3].xact_id,
            forged["prev_hash"],
            row_digest(forged),
        ],
    )
    output, intact = verify()
    assert not intact
    assert f"contact {alice.pk}, row {forged['id']}: back-dated" in output


def test_verify_ledger_reports_a_row_inserted_out_of_order(owner, committed_history):
    alice, events = committed_history
    # Row 3 re-linked to row 1, as if row 2 had been slipped in afterwards.
    forged = {name: getattr(events[2], name) for name in HASHED_FIELDS}
    forged["prev_hash"] = events[0].hash
    behind_the_trigger(
        owner,
        "UPDATE subscriptions_consentevent SET prev_hash = %s, hash = %s WHERE id = %s",
        [forged["prev_hash"], row_digest(forged), events[2].pk],
    )
    output, intact = verify()
    assert not intact
    assert f"contact {alice.pk}, row {events[2].pk}: inserted out of order" in output


def checkpoint_everything(timeout: float = 60) -> None:
    """Checkpoint until every committed row is sealed.

    Other sessions' open transactions on the same server hold back the horizon for a moment.
    """
    deadline = time.monotonic() + timeout
    while True:
        ledger_checkpoint()
        sealed = sum(LedgerCheckpoint.objects.values_list("row_count", flat=True))
        if sealed == ConsentEvent.objects.count():
            return
        assert time.monotonic() < deadline, "the transaction horizon never passed the ledger"
        time.sleep(0.2)


def test_verify_ledger_reports_a_deleted_chain_end_through_its_checkpoint(owner, committed_history):
    """Deleting a contact's newest row leaves a valid chain; the checkpoint that sealed it knows."""
    _alice, events = committed_history
    checkpoint_everything()
    behind_the_trigger(
        owner, "DELETE FROM subscriptions_consentevent WHERE id = %s", [events[3].pk]
    )
    assert ledger_verify() != []
    output, intact = verify()
    assert not intact
    assert "deleted (it sealed 4 rows, 3 are there now)" in output


def test_a_checkpoint_waits_for_a_transaction_that_commits_late(committed_history):
    """A row whose transaction is still open is sealed by a later checkpoint, never skipped."""
    alice, _events = committed_history
    late = psycopg.connect(database_url("app"))  # a transaction, not autocommit
    with late.cursor() as cursor:
        cursor.execute(
            "INSERT INTO subscriptions_consentevent (contact_id, action, old_status, new_status, source, "
            "policy_version, wording, user_agent, evidence, actor) "
            "VALUES (%s, 'exported', '', '', 'api', '', '', '', '', '') RETURNING id, xact_id",
            [alice.pk],
        )
        late_id, late_xact = cursor.fetchone()
    # Another contact: the open transaction holds Alice's chain lock until it commits.
    record(contact=ContactFactory(), action="exported", by=Actor(source="api"))
    ledger_checkpoint()
    assert not LedgerCheckpoint.objects.filter(xact_to__gt=late_xact).exists()
    late.commit()
    late.close()
    checkpoint_everything()
    assert ConsentEvent.objects.filter(pk=late_id).exists()
    assert LedgerCheckpoint.objects.filter(xact_from__lte=late_xact, xact_to__gt=late_xact).exists()
    assert ledger_checkpoint() is None  # nothing new to seal
    output, intact = verify()
    assert intact, output


def test_checkpoints_are_append_only_for_the_app_role(committed_history):
    checkpoint_everything()
    for sql in (
        "UPDATE subscriptions_ledgercheckpoint SET row_count = 0",
        "DELETE FROM subscriptions_ledgercheckpoint",
        "TRUNCATE subscriptions_ledgercheckpoint",
    ):
        assert "permission denied" in str(refused(sql)), sql


def test_verify_ledger_exits_non_zero_from_the_command_line(owner, committed_history):
    alice, events = committed_history
    behind_the_trigger(
        owner,
        "UPDATE subscriptions_consentevent SET source = 'admin' WHERE id = %s",
        [events[0].pk],
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prefcenter.test_settings",
        "DATABASE_URL": database_url("app"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "verify_ledger", "--no-progress"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"contact {alice.pk}, row {events[0].pk}: altered" in result.stdout
    assert "broken in 1 places" in result.stderr


def test_it_schedules_checkpoints_with_beat(settings):
    from prefcenter.celery import app
    from subscriptions.consent import tasks as ledger_tasks

    entry = settings.CELERY_BEAT_SCHEDULE["ledger-checkpoint"]
    assert ledger_tasks.checkpoint_ledger.name == entry["task"]
    assert entry["task"] == "subscriptions.tasks.ledger.checkpoint_ledger"
    assert entry["task"] in app.tasks
    assert entry["schedule"] <= 10 * 60


# --- migrations as the owner ---------------------------------------------------------------------


def test_migrate_runs_as_the_owner_and_grants_the_app_role(transactional_db, settings):
    """With DATABASE_MIGRATE_URL set, `migrate` (from the app's own settings) works as the owner."""
    settings.DATABASE_MIGRATE = {
        "USER": ROLES["owner"]["USER"],
        "PASSWORD": ROLES["owner"]["PASSWORD"],
    }
    settings.DATABASE_APP_ROLE = APP_ROLE
    out = StringIO()
    call_command("migrate", stdout=out)
    assert f"Granted the app's privileges to the database role {APP_ROLE}" in out.getvalue()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == APP_ROLE
        cursor.execute(
            "SELECT has_table_privilege(%s, %s, 'INSERT'), has_table_privilege(%s, %s, 'DELETE'),"
            " has_column_privilege(%s, %s, 'evidence', 'UPDATE'),"
            " has_column_privilege(%s, %s, 'action', 'UPDATE')",
            [APP_ROLE, LEDGER] * 4,
        )
        assert cursor.fetchone() == (True, False, True, False)


# --- concurrency and volume ------------------------------------------------------------------


def insert_sql(contact_id: int, action: str) -> tuple[str, list]:
    return (
        "INSERT INTO subscriptions_consentevent (contact_id, action, old_status, new_status, "
        "source, policy_version, wording, user_agent, evidence, actor) "
        "VALUES (%s, %s, '', '', 'one_click', '', '', '', '', '') RETURNING id",
        [contact_id, action],
    )


def test_two_writers_of_one_contact_queue_and_chain_in_commit_order(committed_history):
    """A second writer waits for the first's commit, then links to its row (no fork)."""
    alice, _events = committed_history
    first = psycopg.connect(database_url("app"))
    first_id = first.execute(*insert_sql(alice.pk, "unsubscribed")).fetchone()[0]
    result = {}

    def second_writer():
        with psycopg.connect(database_url("app"), autocommit=True) as second:
            result["id"] = second.execute(*insert_sql(alice.pk, "unsubscribed_all")).fetchone()[0]

    thread = threading.Thread(target=second_writer)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive(), "the second writer did not wait for the first"
    first.commit()
    first.close()
    thread.join(10)
    rows = list(ConsentEvent.objects.filter(contact=alice).order_by("id"))
    assert [r.pk for r in rows[-2:]] == [first_id, result["id"]]
    assert rows[-1].prev_hash == rows[-2].hash
    assert ledger_verify() == []


def test_a_set_based_insert_of_many_contacts_in_one_transaction_is_chained(topic):
    """No lock-table slot per contact: thousands of contacts in one statement are fine."""
    contacts = Contact.objects.bulk_create(
        Contact(
            email=f"bulk{n}@example.com", email_key=f"bulk{n}@example.com", address_hash=f"h{n}"
        )
        for n in range(5000)
    )
    ConsentEvent.objects.bulk_create(
        ConsentEvent(contact=c, topic=topic, action="subscribed", source="import") for c in contacts
    )
    assert ConsentEvent.objects.filter(prev_hash="").count() == 5000
    assert ledger_verify() == []
