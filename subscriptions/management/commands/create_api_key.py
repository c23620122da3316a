from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from subscriptions.api.keys import UnknownScope, api_key_create, api_scopes_parse
from subscriptions.models import ApiKey
from subscriptions.models.choices import ApiScope


class Command(BaseCommand):
    help = "Create an API key and print it once, alone on the last line. Only its hash is kept."

    def add_arguments(self, parser):
        parser.add_argument("name", help="who or what uses the key, e.g. 'crm-sync'")
        parser.add_argument(
            "--scopes",
            default=",".join(ApiScope.values),
            help=f"comma-separated, from {','.join(ApiScope.values)} (default: all)",
        )

    def handle(self, *args, name: str, scopes: str, **options):
        name = name.strip()
        if not name or len(name) > 100:
            raise CommandError("The name must be 1 to 100 characters.")
        try:
            wanted = api_scopes_parse(scopes)
        except UnknownScope as exc:
            raise CommandError(str(exc)) from None
        if ApiKey.objects.filter(name=name).exists():
            raise CommandError(f"An API key named {name!r} already exists.")
        key, secret = api_key_create(name=name, scopes=wanted)
        self.stderr.write(
            f"Created API key {key.name!r} ({key.prefix}…) with scopes {','.join(key.scopes)}. "
            "Store it now: it is not shown again."
        )
        self.stdout.write(secret)
