"""Duplicating a campaign: its content as a new draft, whatever fields it has grown."""

from __future__ import annotations

from django.db import models, transaction
from django.utils.translation import gettext as _

from ..models import Campaign

# Fields that belong to one run of a campaign, not to its content: a copy starts fresh.
NOT_COPIED = (
    "id",
    "status",
    "scheduled_at",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "created_by",
    "sent_by",
)

# Rows that hang off a campaign and are part of its content (per-language subject and body,
# ...): the related names of their ForeignKey to Campaign. Each row is copied onto the new
# draft. Extend this list when such a relation is added; deliveries and test sends are history
# and are never copied.
COPIED_RELATIONS: tuple[str, ...] = ("translations",)


def campaign_duplicate(*, campaign: Campaign, user=None) -> Campaign:
    """A new draft with every concrete field of `campaign` except NOT_COPIED, named
    "Copy of …", and a copy of each row of COPIED_RELATIONS that exists on this install."""
    values = {
        field.attname: getattr(campaign, field.attname)
        for field in Campaign._meta.concrete_fields
        if field.name not in NOT_COPIED
    }
    name_field = Campaign._meta.get_field("name")
    values["name"] = (_("Copy of %(name)s") % {"name": campaign.name})[: name_field.max_length]
    with transaction.atomic():
        copy = Campaign.objects.create(
            **values, created_by=user if getattr(user, "pk", None) else None
        )
        for relation in _content_relations():
            _copy_rows(campaign, copy, relation)
    return copy


def _content_relations() -> list[models.ManyToOneRel]:
    """The reverse ForeignKeys named in COPIED_RELATIONS that this install's models have."""
    return [
        rel
        for rel in Campaign._meta.related_objects
        if rel.one_to_many and rel.get_accessor_name() in COPIED_RELATIONS
    ]


def _copy_rows(source: Campaign, copy: Campaign, relation: models.ManyToOneRel) -> None:
    model = relation.related_model
    link = relation.field.attname
    rows = []
    for row in model._default_manager.filter(**{relation.field.name: source}):
        values = {
            field.attname: getattr(row, field.attname)
            for field in model._meta.concrete_fields
            if not field.primary_key and field.attname != link
        }
        rows.append(model(**values, **{link: copy.pk}))
    model._default_manager.bulk_create(rows)
