from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import TransactionalStatus


class TransactionalMessage(models.Model):
    """A system email (confirmation, receipt, notice): the durable record behind its task.

    The row is written before the task is queued, so a message survives a broker outage and is
    re-queued by the beat sweep; the task sends only a row it can move out of `queued`.
    """

    kind = models.CharField(max_length=60, blank=True)
    to_email = models.CharField(max_length=254)
    subject = models.CharField(max_length=300)
    text_body = models.TextField()
    html_body = models.TextField(blank=True)
    status = models.CharField(
        max_length=20, choices=TransactionalStatus, default=TransactionalStatus.QUEUED
    )
    error = models.TextField(blank=True)
    esp_message_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("system email")
        verbose_name_plural = _("system emails")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind or 'message'} to {self.to_email}: {self.status}"
