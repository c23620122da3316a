"""`migrate` as the owner role, then the app role's privileges (Django's migrate, wrapped).

With DATABASE_MIGRATE_URL set, the migrations run as that role (the tables' owner) on the same
database; afterwards the role of DATABASE_URL, when it is another role, gets the app's
privileges (subscriptions.management.database_roles). Without it, this is Django's migrate.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.commands import migrate
from django.db import connections

from ..database_roles import database_grant_app_role, database_use_role


class Command(migrate.Command):
    help = migrate.Command.help + " Runs as DATABASE_MIGRATE_URL's role, then grants the app role."

    def handle(self, *args, **options):
        using = options["database"]
        owner = settings.DATABASE_MIGRATE if using == "default" else None
        previous = database_use_role(credentials=owner, using=using) if owner else None
        try:
            super().handle(*args, **options)
            self.grant(using)
        finally:
            if previous is not None:
                database_use_role(credentials=previous, using=using)

    def grant(self, using: str) -> None:
        connection = connections[using]
        role = settings.DATABASE_APP_ROLE
        if connection.vendor != "postgresql" or not role:
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            owner = cursor.fetchone()[0]
        if role != owner:
            database_grant_app_role(role=role, using=using)
            if self.verbosity >= 1:
                self.stdout.write(f"Granted the app's privileges to the database role {role}.")
