"""The two database roles: the owner that migrates, and the app that only uses the tables.

The owner role (DATABASE_MIGRATE_URL) owns every table and runs migrations. The app role
(DATABASE_URL) gets, after every `migrate`, the privileges the app needs and no more: on the
consent ledger and its checkpoints only SELECT and INSERT, plus UPDATE of the ledger's personal
columns (the blanking that erasure and retention do). Not owning the tables, the app role can
neither ALTER them nor disable or drop their triggers, and without the privilege it cannot
TRUNCATE or DELETE the ledger.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connections
from psycopg import sql

from ..models import ConsentEvent, LedgerCheckpoint
from ..models.ledger import PERSONAL_FIELDS

# Tables the app may only read and append to.
APPEND_ONLY_TABLES = (ConsentEvent._meta.db_table, LedgerCheckpoint._meta.db_table)


def database_grant_app_role(*, role: str, using: str = "default") -> None:
    """Give `role` the app's privileges on every table of the current schema (PostgreSQL).

    Run as the owner after migrating; idempotent. Tables: SELECT, INSERT, UPDATE, DELETE;
    sequences: USAGE, SELECT; the append-only tables: SELECT and INSERT only, and UPDATE of
    the ledger's PERSONAL_FIELDS.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    name = sql.Identifier(role)
    ledger = sql.Identifier(ConsentEvent._meta.db_table)
    append_only = sql.SQL(", ").join(sql.Identifier(t) for t in APPEND_ONLY_TABLES)
    statements = [
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(_schema(connection)), name),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}").format(
            sql.Identifier(_schema(connection)), name
        ),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
            sql.Identifier(_schema(connection)), name
        ),
        # Revoking the table-wide UPDATE also drops column grants; the blanking one comes back.
        sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {} FROM {}").format(
            append_only, name
        ),
        sql.SQL("GRANT UPDATE ({}) ON {} TO {}").format(
            sql.SQL(", ").join(sql.Identifier(f) for f in PERSONAL_FIELDS), ledger, name
        ),
    ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement.as_string(cursor.connection))


def _schema(connection) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return cursor.fetchone()[0]


def database_use_role(*, credentials: dict, using: str = "default") -> dict:
    """Reconnect `using` with other credentials (USER, PASSWORD, HOST, PORT); return the old.

    The database (NAME) stays: the owner and the app role work on the same database.
    """
    for connection in connections.all(initialized_only=True):
        if connection.alias == using:
            connection.close()
    current = connections[using].settings_dict
    previous = {key: current.get(key) for key in credentials}
    for target in {
        id(current): current,
        id(settings.DATABASES[using]): settings.DATABASES[using],
    }.values():
        target.update(credentials)
    return previous


def database_role_warnings(*, using: str = "default") -> list[str]:
    """Why the connection's role could rewrite the ledger (superuser, owner), if it could."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, pg_has_role(current_user, tableowner, 'USAGE') "
            "FROM pg_roles, pg_tables WHERE rolname = current_user AND tablename = %s",
            [ConsentEvent._meta.db_table],
        )
        found = cursor.fetchone()
    if found is None:
        return []
    role, superuser, owner = found
    warnings = []
    if superuser:
        warnings.append(f"the database role {role} is a superuser")
    elif owner:
        warnings.append(f"the database role {role} owns the consent ledger")
    if warnings:
        warnings.append(
            "the app should run as a role that only reads and appends to it: "
            "see DATABASE_MIGRATE_URL"
        )
    return warnings
