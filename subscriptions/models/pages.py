from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .contacts import Contact, Topic


class LinkHit(models.Model):
    """One GET of a link from an email (unsubscribe page so far).

    Mail scanners follow every link in a message; counting the opens (time, user agent) makes
    them visible without ever letting a GET change consent.
    """

    class Kind(models.TextChoices):
        UNSUBSCRIBE = "unsubscribe", _("Unsubscribe page")
        PREFERENCES = "preferences", _("Preference page")
        CONFIRM = "confirm", _("Confirmation page")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="link_hits")
    topic = models.ForeignKey(
        Topic, null=True, blank=True, on_delete=models.CASCADE, related_name="link_hits"
    )
    kind = models.CharField(max_length=20, choices=Kind)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("link hit")
        verbose_name_plural = _("link hits")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.created_at:%Y-%m-%d %H:%M}"
