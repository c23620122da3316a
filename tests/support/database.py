"""The test database as production runs it: migrated by an owner role, used by an app role.

DATABASE_URL names a role that can create roles (the postgres superuser of `make test`); the
harness creates the owner and app roles if they are missing (idempotent: parallel runs share
them), creates and migrates the test database as the owner (through our `migrate`, which grants
the app role its privileges), then gives the tests' connection to the app role: every test,
live server and e2e worker touches the database as the app does in production. Transactional
tests are flushed as the owner, with the ledger's triggers off for that one TRUNCATE.
"""

from __future__ import annotations

import os

import psycopg
import pytest
from django.conf import settings
from django.core.management.commands.flush import Command as FlushCommand
from django.db import connections
from psycopg import sql

from subscriptions.management.database_roles import APPEND_ONLY_TABLES, database_use_role

OWNER_ROLE = os.environ.get("TEST_DATABASE_OWNER_ROLE") or "prefcenter_test_owner"
APP_ROLE = os.environ.get("TEST_DATABASE_APP_ROLE") or "prefcenter_test_app"
# Loopback test roles: trust authentication ignores it, password authentication uses it.
PASSWORD = "prefcenter-test"

# Credentials (USER, PASSWORD, HOST, PORT) of "admin", "owner" and "app", set at session start.
ROLES: dict[str, dict] = {}


def ensure_roles(admin: dict, test_database: str) -> None:
    """Create the owner (LOGIN CREATEDB) and app (LOGIN) roles unless they exist.

    A test database left behind by a run under another role is handed to the owner, so the
    owner can drop and re-create it.
    """
    conninfo = psycopg.conninfo.make_conninfo(
        host=admin["HOST"] or None,
        port=admin["PORT"] or None,
        user=admin["USER"] or None,
        password=admin["PASSWORD"] or None,
        dbname="postgres",
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for role, options in ((OWNER_ROLE, "LOGIN CREATEDB"), (APP_ROLE, "LOGIN")):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                continue
            statement = sql.SQL("CREATE ROLE {} " + options + " PASSWORD {}")
            try:
                conn.execute(statement.format(sql.Identifier(role), sql.Literal(PASSWORD)))
            except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                pass  # a parallel run created it a moment ago
            except psycopg.errors.InsufficientPrivilege as error:
                raise RuntimeError(
                    f"The test database roles {OWNER_ROLE} and {APP_ROLE} do not exist and "
                    f"DATABASE_URL's role {admin['USER']} cannot create them: run the tests "
                    "with a superuser DATABASE_URL once, or create them (owner: LOGIN CREATEDB)."
                ) from error
        leftover = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [test_database]
        ).fetchone()
        if leftover and leftover[0] != OWNER_ROLE:
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(test_database), sql.Identifier(OWNER_ROLE)
                )
            )


def database_url(role: str) -> str:
    """A DATABASE_URL for the test database as `role` ("owner" or "app"), for subprocesses."""
    db = {**connections["default"].settings_dict, **ROLES[role]}
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Before the test database exists: roles ready, the connection is the owner's."""
    admin = {key: settings.DATABASES["default"].get(key) or "" for key in ("HOST", "PORT")}
    admin |= {key: settings.DATABASES["default"].get(key) or "" for key in ("USER", "PASSWORD")}
    ensure_roles(admin, connections["default"].creation._get_test_db_name())
    ROLES["admin"] = admin
    ROLES["owner"] = {**admin, "USER": OWNER_ROLE, "PASSWORD": PASSWORD}
    ROLES["app"] = {**admin, "USER": APP_ROLE, "PASSWORD": PASSWORD}
    # Our `migrate` then runs as the connection's role (the owner) and grants the app role.
    settings.DATABASE_MIGRATE = None
    settings.DATABASE_APP_ROLE = APP_ROLE
    database_use_role(credentials=ROLES["owner"])


def _flush_as_owner(handle):
    def flush(self, *args, **options):
        using = options.get("database") or "default"
        previous = database_use_role(credentials=ROLES["owner"], using=using)
        try:
            _set_ledger_triggers(using, "DISABLE")
            try:
                return handle(self, *args, **options)
            finally:
                _set_ledger_triggers(using, "ENABLE")
        finally:
            database_use_role(credentials=previous, using=using)

    return flush


def _set_ledger_triggers(using: str, verb: str) -> None:
    with connections[using].cursor() as cursor:
        for table in APPEND_ONLY_TABLES:
            cursor.execute(f"ALTER TABLE {table} {verb} TRIGGER USER")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """After the owner created and migrated the test database, the tests run as the app role."""
    with django_db_blocker.unblock():
        database_use_role(credentials=ROLES["app"])
    original_flush = FlushCommand.handle
    FlushCommand.handle = _flush_as_owner(original_flush)
    yield
    FlushCommand.handle = original_flush
    with django_db_blocker.unblock():
        # The owner created the test database; it drops it.
        database_use_role(credentials=ROLES["owner"])


@pytest.fixture
def owner(transactional_db):
    """A connection as the table owner (a DBA, or a migration), committing each statement."""
    owner = ROLES["owner"]
    conn = psycopg.connect(
        host=owner["HOST"] or None,
        port=owner["PORT"] or None,
        user=owner["USER"],
        password=owner["PASSWORD"],
        dbname=connections["default"].settings_dict["NAME"],
        autocommit=True,
    )
    yield conn
    conn.close()
