"""docker-compose's database, simulated on the test server: docker/postgres-init-roles.sh creates
the owner and the app role, `migrate` runs as the owner (DATABASE_MIGRATE_URL, from .env.db),
and the app role that web, workers and beat use can read and append to the ledger, never
rewrite it. The script runs as the postgres image runs it (as the superuser, with .env.db's
variables); the processes run with DEBUG off and production settings.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import dj_database_url
import psycopg
import pytest
from psycopg import sql

from tests.deploy.test_security_startup import ROOT, complete_env

PASSWORD = "compose-test"  # loopback: trust authentication ignores it, password auth uses it


def url(server: dict, user: str, database: str) -> str:
    host, port = server["HOST"] or "127.0.0.1", server["PORT"] or 5432
    return f"postgres://{user}:{PASSWORD}@{host}:{port}/{database}"


@pytest.fixture
def compose_database(tmp_path):
    """A fresh database and two fresh roles, as the postgres service's first start makes them."""
    server = dj_database_url.parse(os.environ["DATABASE_URL"])
    suffix = secrets.token_hex(4)
    database, owner, app = f"pc_compose_{suffix}", f"pc_owner_{suffix}", f"pc_app_{suffix}"
    admin = psycopg.conninfo.make_conninfo(
        host=server["HOST"] or None,
        port=server["PORT"] or None,
        user=server["USER"] or None,
        password=server["PASSWORD"] or None,
        dbname="postgres",
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    script = subprocess.run(
        ["sh", "docker/postgres-init-roles.sh"],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PGHOST": server["HOST"] or "127.0.0.1",
            "PGPORT": str(server["PORT"] or 5432),
            "PGPASSWORD": server["PASSWORD"] or "",
            "POSTGRES_USER": server["USER"],
            "POSTGRES_DB": database,
            "DB_OWNER_USER": owner,
            "DB_OWNER_PASSWORD": PASSWORD,
            "DB_APP_USER": app,
            "DB_APP_PASSWORD": PASSWORD,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    try:
        assert script.returncode == 0, script.stderr
        yield server, database, owner, app
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
            for role in (app, owner):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_it_migrates_as_the_owner_and_runs_as_an_app_role_that_cannot_rewrite_the_ledger(
    tmp_path, compose_database
):
    server, database, owner, app = compose_database
    app_env = complete_env(tmp_path, DATABASE_URL=url(server, app, database))
    migrate_env = {**app_env, "DATABASE_MIGRATE_URL": url(server, owner, database)}

    # The app role alone cannot migrate (it owns nothing, may create nothing).
    assert manage(app_env, "migrate", "--noinput").returncode != 0
    migrated = manage(migrate_env, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    assert f"Granted the app's privileges to the database role {app}." in migrated.stdout

    # The app's own command works under the app role, and finds the ledger intact.
    verified = manage(app_env, "verify_ledger")
    assert verified.returncode == 0, verified.stderr

    as_app = psycopg.conninfo.make_conninfo(
        host=server["HOST"] or "127.0.0.1",
        port=server["PORT"] or 5432,
        user=app,
        password=PASSWORD,
        dbname=database,
    )
    with psycopg.connect(as_app, autocommit=True) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s", [app]
        ).fetchone()
        assert row == (False, False, False)
        assert conn.execute("SELECT count(*) FROM subscriptions_consentevent").fetchone()
        for statement in (
            "TRUNCATE subscriptions_consentevent",
            "DELETE FROM subscriptions_consentevent",
            "UPDATE subscriptions_consentevent SET new_status = 'subscribed'",
            "ALTER TABLE subscriptions_consentevent DISABLE TRIGGER USER",
            "DROP TABLE subscriptions_ledgercheckpoint",
            "CREATE TABLE public.anything (id int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
