"""Make the consent ledger append-only in the database itself.

UPDATE is refused unless the only change is blanking personal fields (erasure, retention);
DELETE is always refused. PostgreSQL and SQLite each get their own trigger.
"""

from django.db import migrations

PERSONAL = ("ip_address", "user_agent", "evidence")
FACTS = (
    "id", "contact_id", "topic_id", "action", "old_status", "new_status", "source",
    "policy_version", "wording", "actor", "staff_user_id", "created_at",
)

PG_FUNCTION = """
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
CREATE TRIGGER subscriptions_consentevent_append_only
    BEFORE UPDATE OR DELETE ON subscriptions_consentevent
    FOR EACH ROW EXECUTE FUNCTION subscriptions_consentevent_append_only();
"""

SQLITE = [
    "CREATE TRIGGER subscriptions_consentevent_no_delete BEFORE DELETE ON subscriptions_consentevent "
    "BEGIN SELECT RAISE(ABORT, 'consent ledger rows cannot be deleted'); END;",
    "CREATE TRIGGER subscriptions_consentevent_no_update BEFORE UPDATE ON subscriptions_consentevent "
    "WHEN {facts_changed} OR {personal_rewritten} "
    "BEGIN SELECT RAISE(ABORT, 'consent ledger rows cannot be changed'); END;",
]


def _conditions(distinct: str) -> dict:
    facts = " OR ".join(f"NEW.{f} {distinct} OLD.{f}" for f in FACTS)
    personal = " OR ".join(
        f"(NEW.{f} {distinct} OLD.{f} AND COALESCE(NEW.{f}, '') <> '')" for f in PERSONAL
    )
    return {"facts_changed": f"({facts})", "personal_rewritten": f"({personal})"}


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION.format(**_conditions("IS DISTINCT FROM")))
    elif vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement.format(**_conditions("IS NOT")))


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS subscriptions_consentevent_append_only ON subscriptions_consentevent;"
            "DROP FUNCTION IF EXISTS subscriptions_consentevent_append_only();"
        )
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS subscriptions_consentevent_no_delete")
        schema_editor.execute("DROP TRIGGER IF EXISTS subscriptions_consentevent_no_update")


class Migration(migrations.Migration):
    dependencies = [("subscriptions", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
