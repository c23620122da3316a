from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import Action, Source
from .contacts import Contact, Topic

# Fields holding personal data: the only ones that may ever change, and only to empty, when a
# contact is erased or the retention job minimises old rows. The database enforces this.
PERSONAL_FIELDS = ("ip_address", "user_agent", "evidence")


class ConsentEvent(models.Model):
    """Append-only proof of every consent change (GDPR art. 7(1)).

    Written only by subscriptions.ledger.record; never updated or deleted by the application. On
    PostgreSQL and SQLite a trigger refuses UPDATE and DELETE, except blanking PERSONAL_FIELDS.
    """

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="consent_events")
    topic = models.ForeignKey(
        Topic, null=True, blank=True, on_delete=models.PROTECT, related_name="consent_events"
    )
    action = models.CharField(max_length=30, choices=Action)
    old_status = models.CharField(max_length=40, blank=True)
    new_status = models.CharField(max_length=40, blank=True)
    source = models.CharField(max_length=30, choices=Source)
    policy_version = models.CharField(max_length=40, blank=True)
    # The consent wording shown to the person when they acted.
    wording = models.TextField(blank=True)
    # Minimised at write time (IPv4 /24, IPv6 /48); blanked by retention and erasure.
    ip_address = models.CharField(max_length=64, null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    evidence = models.TextField(blank=True)
    # Who acted on the person's behalf: "api:<key name>", "import:<source>", a staff username.
    actor = models.CharField(max_length=150, blank=True)
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        topic = self.topic.slug if self.topic_id else "all"
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} ({topic}) via {self.source}"
