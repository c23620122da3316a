"""Move every contact to the version-2 canonical address, merging spellings of one mailbox.

The work is subscriptions.canonical's services, run on the historical models: re-key each
contact, merge contacts that now collide (the opt-out wins, a `merged` ledger row, old rows never
re-pointed), suppress addresses the new form refuses, and store locales as supported languages.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    from subscriptions.consent.canonical import contact_locales_clean, contacts_rekey

    contacts_rekey(apps=apps)
    contact_locales_clean(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("subscriptions", "0010_canonical_addresses"),
    ]

    # Nothing to undo: the old spellings stay on the merged-away rows and in the ledger.
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
