"""Outbound webhooks: the host product's endpoints, the outbox of events, and each event's way
to each endpoint (the delivery log)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from .choices import OutboundEventType, WebhookDeliveryStatus


class WebhookEndpoint(models.Model):
    """A URL of the host product that wants some event types, signed with its own secret.

    The secret is kept as is because every delivery is signed with it; it is shown once, when
    the endpoint is created (API answer, admin message), and never again.
    """

    # Vetted by integrations.endpoints.url_vet (http(s), public addresses), not by the field.
    url = models.CharField(_("URL"), max_length=2000)
    # The OutboundEventType values it receives.
    events = models.JSONField(_("events"), default=list)
    secret = models.CharField(max_length=100, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True, editable=False)
    disabled_reason = models.CharField(_("why disabled"), max_length=300, blank=True)
    # Start of the current run of failed attempts (none since the last success): three days of
    # it disable the endpoint.
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url


class OutboundEvent(models.Model):
    """One event in the outbox, written in the same transaction as the change it reports.

    `uid` is the event's id for receivers (their idempotency key); the row id orders the events
    of one contact.
    """

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=40, choices=OutboundEventType)
    data = models.JSONField(default=dict)
    # The contact it is about (None: suppression of an address with no contact, a campaign):
    # deliveries of one contact's events to one endpoint keep their order.
    contact_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        verbose_name = _("outbound event")
        verbose_name_plural = _("outbound events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.type} {self.uid}"


class WebhookDelivery(models.Model):
    """One event on its way to one endpoint: attempts, last answer, next try."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(OutboundEvent, on_delete=models.CASCADE, related_name="deliveries")
    # Copied from the event so "an earlier event of this contact is still open" is one index probe.
    contact_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=WebhookDeliveryStatus, default=WebhookDeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # When it may be tried next; while an attempt runs, the end of that attempt's lease.
    next_attempt_at = models.DateTimeField(db_default=Now())
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhookdelivery_once"),
        ]
        indexes = [
            models.Index(
                fields=["status", "next_attempt_at"],
                name="webhookdelivery_due_idx",
                condition=models.Q(status__in=["pending", "failed"]),
            ),
            models.Index(
                fields=["endpoint", "contact_id", "event"],
                name="webhookdelivery_order_idx",
                condition=models.Q(status__in=["pending", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint} ({self.status})"
