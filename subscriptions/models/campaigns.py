from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import BodyFormat, CampaignStatus, DeliveryStatus
from .contacts import Contact, Topic
from .layouts import EmailLayout
from .querysets import DeliveryQuerySet


class Campaign(models.Model):
    name = models.CharField(_("name"), max_length=200)
    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="campaigns")
    subject = models.CharField(_("subject"), max_length=300)
    # What the marketer writes (authoring: campaigns/authoring.py) in `body_format`; `html_body`
    # is derived from it on save and is what sending renders. HTML campaigns from the API leave
    # the source empty and write html_body directly.
    body_format = models.CharField(
        _("body format"), max_length=10, choices=BodyFormat, default=BodyFormat.HTML
    )
    body_source = models.TextField(_("body"), blank=True)
    html_body = models.TextField(_("HTML body"), blank=True)
    text_body = models.TextField(_("text body"), blank=True)
    from_email = models.CharField(_("from"), max_length=254, blank=True)
    # Empty: the body is the whole message (as campaigns before layouts were sent).
    layout = models.ForeignKey(
        EmailLayout,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaigns",
        verbose_name=_("layout"),
    )
    status = models.CharField(max_length=20, choices=CampaignStatus, default=CampaignStatus.DRAFT)
    scheduled_at = models.DateTimeField(_("scheduled at"), null=True, blank=True)
    # The zone the schedule was chosen in (a zoneinfo name), so it is shown as it was meant;
    # empty: the console's own zone.
    schedule_time_zone = models.CharField(
        _("schedule time zone"), max_length=64, blank=True, default=""
    )
    # Narrows the topic's audience (campaigns.segments); none: everyone marketable on the topic.
    segment = models.ForeignKey(
        "subscriptions.Segment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaigns",
        verbose_name=_("segment"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Delivery(models.Model):
    """One campaign to one contact: the progress record and the idempotency key."""

    # No index of its own: the (campaign, contact) unique constraint and the (campaign, status)
    # index both start with campaign_id and serve its lookups and cascades.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=20, choices=DeliveryStatus, default=DeliveryStatus.PENDING)
    # Why a delivery was skipped or failed (e.g. "unsubscribed", "suppressed", "outcome_unknown").
    reason = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    # Indexed by the partial index in Meta (webhook lookups), not db_index: that made two
    # PostgreSQL indexes (btree + LIKE) holding an empty entry for every unsent delivery.
    esp_message_id = models.CharField(max_length=200, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The claim's holder (campaigns.claims.worker_id(): host, pid and boot of a process) and its
    # lease, renewed while that process lives: a lapsed lease or a holder that is gone sends the
    # claim back to pending, unless it was in flight (rule 4).
    claimed_by = models.CharField(max_length=200, blank=True, db_default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    # Set by one statement per send call, just before the call: its answer may be lost.
    in_flight_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # What the ESP reported afterwards (tracking webhooks); each the first time it was seen.
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    complained_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "contact"], name="one_delivery_per_contact"
            ),
        ]
        indexes = [
            # With id last, claiming "the next 500 pending by id" reads 500 index entries
            # instead of sorting every pending delivery of the campaign (150 ms at 1,000,000).
            models.Index(fields=["campaign", "status", "id"], name="delivery_campaign_status"),
            # Only the claimed rows (a few batches per worker): the recovery sweeps read them
            # by holder and lease across every campaign without touching the rest.
            models.Index(
                fields=["claimed_by", "lease_until"],
                name="delivery_claim_lease",
                condition=models.Q(status="claimed"),
            ),
            models.Index(
                fields=["esp_message_id"],
                name="delivery_esp_message_id",
                condition=~models.Q(esp_message_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} → {self.contact_id}: {self.status}"


class CampaignTestSend(models.Model):
    """One test send: who sent which campaign to which addresses, when (DESIGN rule 9).

    Written by subscriptions.campaigns.test_sends.campaign_test_send only; read-only in the admin.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="test_sends")
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who asked, readable after the user or key is gone: "admin:<username>" or "api:<key name>".
    requested_by = models.CharField(_("requested by"), max_length=200)
    # The contact whose merge data filled the content; empty: a stand-in.
    rendered_as = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recipients = models.JSONField(_("sent to"), default=list)
    refused = models.JSONField(_("refused (suppressed)"), default=list)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("sent test")
        verbose_name_plural = _("sent tests")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.campaign_id} test by {self.requested_by}"
