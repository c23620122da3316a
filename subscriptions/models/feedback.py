"""What the ESPs tell us after sending: processed webhook events, soft bounces, removals."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ProcessedWebhookEvent(models.Model):
    """One ESP event already handled: the idempotency key of the tracking webhooks."""

    esp = models.CharField(max_length=40)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=40, blank=True)
    processed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("processed webhook event")
        verbose_name_plural = _("processed webhook events")
        constraints = [
            models.UniqueConstraint(fields=["esp", "event_id"], name="one_processing_per_event"),
        ]

    def __str__(self) -> str:
        return f"{self.esp}:{self.event_id} ({self.event_type})"


class SoftBounce(models.Model):
    """One temporary delivery failure of an address; enough of them in a window suppress it."""

    address_hash = models.CharField(max_length=64, db_index=True)
    esp = models.CharField(max_length=40, blank=True)
    description = models.CharField(max_length=300, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("soft bounce")
        verbose_name_plural = _("soft bounces")
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"{self.address_hash[:12]}… {self.occurred_at:%Y-%m-%d %H:%M}"


class SuppressionRemoval(models.Model):
    """The log of suppressions staff lifted: who, why, and what was lifted."""

    address_hash = models.CharField(max_length=64, db_index=True)
    reasons = models.CharField(max_length=200)
    why = models.TextField()
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    removed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("suppression removal")
        verbose_name_plural = _("suppression removals")
        ordering = ["-removed_at"]

    def __str__(self) -> str:
        return f"{self.address_hash[:12]}… {self.reasons} removed"
