"""Segments (issue 12): the Segment model, Campaign.segment, and the contact indexes a segment's
conditions use (bench/campaign.py --segment measures them at 1,000,000 contacts)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


# Language and country conditions are plain equality / IN: btree. Attribute conditions are JSON
# containment (@>) and key tests (?): GIN with the default jsonb_ops, which serves both
# (jsonb_path_ops serves only @>). Nothing in the send path reads these; an import pays for
# their upkeep on each new contact.
CONTACT_INDEXES = {
    "contact_segment_locale": "(locale)",
    "contact_segment_country": "(country)",
}
POSTGRESQL_INDEXES = {"contact_segment_attributes": "USING gin (attributes)"}


def create_indexes(apps, schema_editor):
    indexes = dict(CONTACT_INDEXES)
    if schema_editor.connection.vendor == "postgresql":
        indexes.update(POSTGRESQL_INDEXES)
    for name, how in indexes.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON subscriptions_contact {how}")


def drop_indexes(apps, schema_editor):
    for name in [*CONTACT_INDEXES, *POSTGRESQL_INDEXES]:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('subscriptions', '0019_webhooks_outbound'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Segment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200, verbose_name='name')),
                ('rules', models.JSONField(blank=True, default=dict, verbose_name='rules')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('topic', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='segments', to='subscriptions.topic', verbose_name='topic')),
            ],
            options={
                'verbose_name': 'segment',
                'verbose_name_plural': 'segments',
                'ordering': ['name'],
            },
        ),
        migrations.AddField(
            model_name='campaign',
            name='segment',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='campaigns', to='subscriptions.segment', verbose_name='segment'),
        ),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
