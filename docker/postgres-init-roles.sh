#!/bin/sh
# Runs once, when the postgres volume is first created (docker-entrypoint-initdb.d), as the
# superuser: the owner role that runs migrations and owns every table, and the app role that
# web, workers and beat use. `manage.py migrate` (as the owner) grants the app role its
# privileges on each table: it can read and append to the consent ledger, never rewrite it.
# Neither role is a superuser; the superuser's password stays in .env.db only.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v db="$POSTGRES_DB" \
    -v owner="$DB_OWNER_USER" -v owner_password="$DB_OWNER_PASSWORD" \
    -v app="$DB_APP_USER" -v app_password="$DB_APP_PASSWORD" <<'SQL'
CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password';
CREATE ROLE :"app" LOGIN PASSWORD :'app_password';
ALTER DATABASE :"db" OWNER TO :"owner";
ALTER SCHEMA public OWNER TO :"owner";
-- PostgreSQL 15+ already withholds this; older servers let every role create tables in public.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"app";
SQL
