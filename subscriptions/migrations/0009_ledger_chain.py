"""A ledger that proves itself: the database sets each row's time and chains its hash.

On PostgreSQL:
- a BEFORE INSERT trigger locks the contact's row (no global lock: bursts and imports of
  different contacts never wait on each other), then sets the row's id (after the lock, so
  one contact's ids follow its chain), created_at (clock_timestamp(): nobody back-dates a row),
  xact_id (the inserting transaction, for checkpoints), prev_hash (the hash of the contact's
  previous row) and hash (sha256 over prev_hash and the facts: never the personal fields that
  erasure and retention blank). Every insert path is chained: services, set-based imports,
  data migrations.
- a statement trigger refuses TRUNCATE of the ledger and of its checkpoints;
- the append-only trigger of 0002 now also guards the new columns, and checkpoints get one.
Existing rows are chained in id order per contact. The privileges of the app's role are set
by the `migrate` command after every run (subscriptions/database_roles.py).

The serialisation (each value as "<length>:<text>", NULL as "~", joined by "|"; times as UTC
with microseconds) is repeated in Python by subscriptions.ledger.row_digest, which
verify_ledger uses: the two must agree, and a test proves they do.
"""

import django.db.models.functions.datetime
from django.conf import settings
from django.db import migrations, models


HASHED = (
    "prev_hash", "id", "contact_id", "topic_id", "action", "old_status", "new_status", "source",
    "policy_version", "wording", "actor", "staff_user_id", "created_at",
)
FACTS = HASHED + ("xact_id", "hash")
PERSONAL = ("ip_address", "user_agent", "evidence")


def _text(row: str, column: str) -> str:
    if column == "created_at":
        value = f"to_char({row}.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    else:
        value = f"{row}.{column}::text"
    return f"CASE WHEN {value} IS NULL THEN '~' ELSE char_length({value})::text || ':' || {value} END"


def _payload(row: str) -> str:
    return " || '|' || ".join(_text(row, column) for column in HASHED)


PAYLOAD = _payload("r")
# Spelled out in the trigger rather than a call of the digest function per row.
NEW_PAYLOAD = _payload("NEW")

INSTALL = f"""
CREATE FUNCTION subscriptions_consentevent_digest(r subscriptions_consentevent) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to({PAYLOAD}, 'UTF8')), 'hex')
$$;

CREATE FUNCTION subscriptions_consentevent_chain() RETURNS trigger
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head_hash text;
BEGIN
    -- Writers of one contact queue on its row (a row lock: a set-based insert of a million
    -- contacts in one statement needs no lock-table slot per contact, as advisory locks would);
    -- READ COMMITTED then lets the next statement see the head the previous writer committed.
    PERFORM 1 FROM subscriptions_contact WHERE id = NEW.contact_id FOR NO KEY UPDATE;
    SELECT hash INTO head_hash FROM subscriptions_consentevent
        WHERE contact_id = NEW.contact_id ORDER BY id DESC LIMIT 1;
    NEW.id := nextval(pg_get_serial_sequence('subscriptions_consentevent', 'id'));
    NEW.created_at := clock_timestamp();
    NEW.xact_id := pg_current_xact_id()::text::bigint;
    NEW.prev_hash := COALESCE(head_hash, '');
    NEW.hash := encode(sha256(convert_to({NEW_PAYLOAD}, 'UTF8')), 'hex');
    RETURN NEW;
END;
$$;

CREATE FUNCTION subscriptions_ledger_no_truncate() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% cannot be truncated', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE FUNCTION subscriptions_ledgercheckpoint_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger checkpoints cannot be changed or deleted' USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

-- Chain the rows written before this migration, contact by contact in id order.
ALTER TABLE subscriptions_consentevent DISABLE TRIGGER subscriptions_consentevent_append_only;
DO $$
DECLARE
    r subscriptions_consentevent%ROWTYPE;
    previous_contact bigint := NULL;
    previous_hash text := '';
BEGIN
    FOR r IN SELECT * FROM subscriptions_consentevent ORDER BY contact_id, id LOOP
        IF r.contact_id IS DISTINCT FROM previous_contact THEN
            previous_contact := r.contact_id;
            previous_hash := '';
        END IF;
        r.prev_hash := previous_hash;
        previous_hash := subscriptions_consentevent_digest(r);
        UPDATE subscriptions_consentevent SET prev_hash = r.prev_hash, hash = previous_hash
            WHERE id = r.id;
    END LOOP;
END;
$$;
ALTER TABLE subscriptions_consentevent ENABLE TRIGGER subscriptions_consentevent_append_only;

CREATE TRIGGER subscriptions_consentevent_chain
    BEFORE INSERT ON subscriptions_consentevent
    FOR EACH ROW EXECUTE FUNCTION subscriptions_consentevent_chain();
CREATE TRIGGER subscriptions_consentevent_no_truncate
    BEFORE TRUNCATE ON subscriptions_consentevent
    FOR EACH STATEMENT EXECUTE FUNCTION subscriptions_ledger_no_truncate();
CREATE TRIGGER subscriptions_ledgercheckpoint_append_only
    BEFORE UPDATE OR DELETE ON subscriptions_ledgercheckpoint
    FOR EACH ROW EXECUTE FUNCTION subscriptions_ledgercheckpoint_append_only();
CREATE TRIGGER subscriptions_ledgercheckpoint_no_truncate
    BEFORE TRUNCATE ON subscriptions_ledgercheckpoint
    FOR EACH STATEMENT EXECUTE FUNCTION subscriptions_ledger_no_truncate();
"""

UNINSTALL = """
DROP TRIGGER IF EXISTS subscriptions_consentevent_chain ON subscriptions_consentevent;
DROP TRIGGER IF EXISTS subscriptions_consentevent_no_truncate ON subscriptions_consentevent;
DROP TRIGGER IF EXISTS subscriptions_ledgercheckpoint_append_only ON subscriptions_ledgercheckpoint;
DROP TRIGGER IF EXISTS subscriptions_ledgercheckpoint_no_truncate ON subscriptions_ledgercheckpoint;
DROP FUNCTION IF EXISTS subscriptions_consentevent_chain();
DROP FUNCTION IF EXISTS subscriptions_consentevent_digest(subscriptions_consentevent);
DROP FUNCTION IF EXISTS subscriptions_ledger_no_truncate();
DROP FUNCTION IF EXISTS subscriptions_ledgercheckpoint_append_only();
"""

# 0002's append-only function, now also guarding the columns the chain trigger sets.
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION subscriptions_consentevent_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'consent ledger rows cannot be deleted' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF {facts_changed} THEN
        RAISE EXCEPTION 'consent ledger rows cannot be changed' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF {personal_rewritten} THEN
        RAISE EXCEPTION 'personal fields of the consent ledger may only be blanked' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def _append_only(facts) -> str:
    changed = " OR ".join(f"NEW.{f} IS DISTINCT FROM OLD.{f}" for f in facts)
    rewritten = " OR ".join(
        f"(NEW.{f} IS DISTINCT FROM OLD.{f} AND COALESCE(NEW.{f}, '') <> '')" for f in PERSONAL
    )
    return APPEND_ONLY.format(facts_changed=f"({changed})", personal_rewritten=f"({rewritten})")


def _run(schema_editor, sql: str) -> None:
    # No parameters: the SQL's own % signs (RAISE formats, %ROWTYPE, modulo) stay as written.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql)


# SQLite (`make run` only) rebuilt the table for the new columns, which dropped 0002's triggers.
SQLITE = [
    "DROP TRIGGER IF EXISTS subscriptions_consentevent_no_delete",
    "DROP TRIGGER IF EXISTS subscriptions_consentevent_no_update",
    "CREATE TRIGGER subscriptions_consentevent_no_delete BEFORE DELETE ON subscriptions_consentevent "
    "BEGIN SELECT RAISE(ABORT, 'consent ledger rows cannot be deleted'); END;",
    "CREATE TRIGGER subscriptions_consentevent_no_update BEFORE UPDATE ON subscriptions_consentevent "
    "WHEN {facts_changed} OR {personal_rewritten} "
    "BEGIN SELECT RAISE(ABORT, 'consent ledger rows cannot be changed'); END;",
]


def _sqlite_conditions(facts) -> dict:
    changed = " OR ".join(f"NEW.{f} IS NOT OLD.{f}" for f in facts)
    rewritten = " OR ".join(
        f"(NEW.{f} IS NOT OLD.{f} AND COALESCE(NEW.{f}, '') <> '')" for f in PERSONAL
    )
    return {"facts_changed": f"({changed})", "personal_rewritten": f"({rewritten})"}


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE:
            _run(schema_editor, statement.format(**_sqlite_conditions(FACTS)))
    if schema_editor.connection.vendor != "postgresql":
        return
    _run(schema_editor, _append_only(FACTS))
    _run(schema_editor, INSTALL)


def uninstall(apps, schema_editor):
    # SQLite: reversing rebuilds the table after this step, so 0002's triggers are not restored
    # there (a development database only).
    if schema_editor.connection.vendor != "postgresql":
        return
    _run(schema_editor, UNINSTALL)
    _run(schema_editor, _append_only(tuple(f for f in FACTS if f not in ("xact_id", "hash", "prev_hash"))))


class Migration(migrations.Migration):

    dependencies = [
        ('subscriptions', '0008_delivery_claim_order'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='LedgerCheckpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('xact_from', models.BigIntegerField()),
                ('xact_to', models.BigIntegerField(unique=True)),
                ('row_count', models.BigIntegerField()),
                ('last_event_id', models.BigIntegerField(null=True)),
                ('prev_hash', models.CharField(blank=True, max_length=64)),
                ('hash', models.CharField(max_length=64)),
                ('created_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now(), editable=False)),
            ],
            options={
                'verbose_name': 'ledger checkpoint',
                'verbose_name_plural': 'ledger checkpoints',
                'ordering': ['id'],
            },
        ),
        migrations.AddField(
            model_name='consentevent',
            name='hash',
            field=models.CharField(db_default='', editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='consentevent',
            name='prev_hash',
            field=models.CharField(db_default='', editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='consentevent',
            name='xact_id',
            field=models.BigIntegerField(db_default=0, db_index=True, editable=False),
        ),
        migrations.AlterField(
            model_name='consentevent',
            name='created_at',
            field=models.DateTimeField(db_default=django.db.models.functions.datetime.Now(), db_index=True, editable=False),
        ),
        migrations.AddIndex(
            model_name='consentevent',
            index=models.Index(fields=['contact', 'id'], name='consentevent_chain_idx'),
        ),
        migrations.RunPython(install, uninstall),
    ]
