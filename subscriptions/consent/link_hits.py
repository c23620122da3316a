"""Counting the GETs of email links: one row per contact, topic, kind and day, never more."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ..models import Contact, LinkHit, Topic


def link_hit_record(*, contact: Contact, topic: Topic | None, kind: str, user_agent: str) -> None:
    """Count one open of a link. Set-based: an UPDATE … SET count = count + 1 of the day's row,
    or the row's INSERT when it is the day's first open (a concurrent first open that loses the
    race to the unique constraint counts by UPDATE instead). Keeps the latest user agent."""
    now = timezone.now()
    user_agent = user_agent[:300]
    day_row = LinkHit.objects.filter(contact=contact, topic=topic, kind=kind, day=now.date())
    fields = {"count": F("count") + 1, "last_at": now, "user_agent": user_agent}
    if day_row.update(**fields):
        return
    try:
        with transaction.atomic():
            LinkHit.objects.create(
                contact=contact,
                topic=topic,
                kind=kind,
                day=now.date(),
                created_at=now,
                last_at=now,
                user_agent=user_agent,
            )
    except IntegrityError:
        day_row.update(**fields)
