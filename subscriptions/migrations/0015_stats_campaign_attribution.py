"""Honest statistics (issue 11): the ledger names the campaign whose link was used, and the
archive of deleted deliveries keeps their bounce, complaint and unsubscribe counts.

`consentevent.campaign_id` is attribution, not a consent fact: it stays out of the hash chain
(0009's digest is unchanged, so every existing row keeps verifying), but the append-only
trigger now guards it like the facts, so a written row's campaign can never be changed.
The trigger texts are copied here (not imported) so this migration keeps meaning what it meant.
"""

import django.db.models.deletion
from django.db import migrations, models

HASHED = (
    "prev_hash", "id", "contact_id", "topic_id", "action", "old_status", "new_status", "source",
    "policy_version", "wording", "actor", "staff_user_id", "created_at",
)
FACTS_BEFORE = HASHED + ("xact_id", "hash")
FACTS = FACTS_BEFORE + ("campaign_id",)
PERSONAL = ("ip_address", "user_agent", "evidence")

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

# SQLite (`make run` only) rebuilds the table for the new column, which drops its triggers.
SQLITE = [
    "DROP TRIGGER IF EXISTS subscriptions_consentevent_no_delete",
    "DROP TRIGGER IF EXISTS subscriptions_consentevent_no_update",
    "CREATE TRIGGER subscriptions_consentevent_no_delete BEFORE DELETE ON subscriptions_consentevent "
    "BEGIN SELECT RAISE(ABORT, 'consent ledger rows cannot be deleted'); END;",
    "CREATE TRIGGER subscriptions_consentevent_no_update BEFORE UPDATE ON subscriptions_consentevent "
    "WHEN {facts_changed} OR {personal_rewritten} "
    "BEGIN SELECT RAISE(ABORT, 'consent ledger rows cannot be changed'); END;",
]


def _postgresql(facts) -> str:
    changed = " OR ".join(f"NEW.{f} IS DISTINCT FROM OLD.{f}" for f in facts)
    rewritten = " OR ".join(
        f"(NEW.{f} IS DISTINCT FROM OLD.{f} AND COALESCE(NEW.{f}, '') <> '')" for f in PERSONAL
    )
    return APPEND_ONLY.format(facts_changed=f"({changed})", personal_rewritten=f"({rewritten})")


def _sqlite(facts) -> dict:
    changed = " OR ".join(f"NEW.{f} IS NOT OLD.{f}" for f in facts)
    rewritten = " OR ".join(
        f"(NEW.{f} IS NOT OLD.{f} AND COALESCE(NEW.{f}, '') <> '')" for f in PERSONAL
    )
    return {"facts_changed": f"({changed})", "personal_rewritten": f"({rewritten})"}


def _run(schema_editor, sql: str) -> None:
    # No parameters: the SQL's own % signs stay as written.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql)


def _guard(facts):
    def install(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for statement in SQLITE:
                _run(schema_editor, statement.format(**_sqlite(facts)))
        elif schema_editor.connection.vendor == "postgresql":
            _run(schema_editor, _postgresql(facts))

    return install


class Migration(migrations.Migration):

    dependencies = [
        ("subscriptions", "0014_topic_translations"),
    ]

    operations = [
        migrations.AddField(
            model_name="consentevent",
            name="campaign",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="consent_events",
                to="subscriptions.campaign",
            ),
        ),
        migrations.AddField(
            model_name="campaignstatsarchive",
            name="bounced",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="campaignstatsarchive",
            name="complained",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="campaignstatsarchive",
            name="unsubscribed",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.RunPython(_guard(FACTS), _guard(FACTS_BEFORE)),
    ]
