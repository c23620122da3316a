from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import LinkHitKind
from .contacts import Contact, Topic


def _today():
    return timezone.now().date()


class LinkHit(models.Model):
    """The GETs of one kind of email link for one contact and topic on one day, counted.

    Mail scanners follow every link in a message; counting the opens (first and last time,
    the latest user agent) makes them visible without ever letting a GET change consent. One
    row per (contact, topic, kind, day), so reloading a page cannot grow the table.
    """

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="link_hits")
    topic = models.ForeignKey(
        Topic, null=True, blank=True, on_delete=models.CASCADE, related_name="link_hits"
    )
    kind = models.CharField(max_length=20, choices=LinkHitKind)
    day = models.DateField(default=_today)
    count = models.PositiveIntegerField(default=1)
    # The latest opener's user agent: enough to recognise a scanner.
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)  # the day's first
    last_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("link hit")
        verbose_name_plural = _("link hits")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "topic", "kind", "day"], name="one_link_hit_row_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.day:%Y-%m-%d}: {self.count}"
