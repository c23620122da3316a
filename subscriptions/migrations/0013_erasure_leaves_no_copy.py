"""Erasure leaves no copy (issue 9, road 7): the stored webhook dedupe keys become keyed hashes,
and the ESP texts and admin log entries already stored lose the addresses they quote.

The expressions are copied here (not imported) so this migration keeps meaning what it meant.
"""

import hashlib
import hmac
import re

from django.conf import settings
from django.db import migrations

ADDRESS_LIKE = re.compile(r"""[^\s<>()\[\]{},;:"'`@]+@[^\s<>()\[\]{},;:"'`@]+""")


def redact(text):
    return ADDRESS_LIKE.sub("[address]", text or "")


def forwards(apps, schema_editor):
    key = settings.SUPPRESSION_HASH_KEY.encode()
    ProcessedWebhookEvent = apps.get_model("subscriptions", "ProcessedWebhookEvent")
    for event in ProcessedWebhookEvent.objects.iterator():
        event.event_id = hmac.new(key, event.event_id.encode(), hashlib.sha256).hexdigest()
        event.save(update_fields=["event_id"])
    for model, field in (
        ("Suppression", "note"),
        ("SoftBounce", "description"),
        ("SuppressionRemoval", "why"),
    ):
        Model = apps.get_model("subscriptions", model)
        for row in Model.objects.filter(**{f"{field}__contains": "@"}).iterator():
            setattr(row, field, redact(getattr(row, field)))
            row.save(update_fields=[field])
    # Admin log entries of contacts erased before this migration.
    Contact = apps.get_model("subscriptions", "Contact")
    ContentType = apps.get_model("contenttypes", "ContentType")
    LogEntry = apps.get_model("admin", "LogEntry")
    types = ContentType.objects.filter(
        app_label="subscriptions", model__in=["contact", "datasubject", "contactimport"]
    )
    erased = Contact.objects.filter(erased_at__isnull=False).values_list("pk", flat=True)
    for entry in LogEntry.objects.filter(
        content_type__in=types, object_id__in=[str(pk) for pk in erased]
    ).iterator():
        entry.object_repr = f"erased contact #{entry.object_id}"
        entry.change_message = redact(entry.change_message)
        entry.save(update_fields=["object_repr", "change_message"])


class Migration(migrations.Migration):
    dependencies = [
        ("subscriptions", "0012_api_scopes_test_sends"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
