from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from subscriptions.api.keys import api_key_create, api_key_name_check, api_scopes_parse
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
        try:
            wanted = api_scopes_parse(scopes)
            name = api_key_name_check(name)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        key, secret = api_key_create(name=name, scopes=wanted)
        self.stderr.write(
            f"Created API key {key.name!r} ({key.prefix}…) with scopes {','.join(key.scopes)}. "
            "Store it now: it is not shown again."
        )
        self.stdout.write(secret)
