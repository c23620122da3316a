from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from .campaigns import Campaign
from .choices import PrivacyAction
from .contacts import Contact
from .querysets import CampaignStatsArchiveQuerySet


def _nonce() -> str:
    return secrets.token_hex(16)


class PrivacyRequest(models.Model):
    """A verification email sent for an export or erasure: its link works once, for a while."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=10, choices=PrivacyAction)
    nonce = models.CharField(max_length=32, unique=True, default=_nonce, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("privacy request")
        verbose_name_plural = _("privacy requests")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.action} for contact #{self.contact_id}"


class CampaignStatsArchive(models.Model):
    """Delivery counts kept after the retention job deleted the delivery rows they came from."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="archived_stats")
    status = models.CharField(max_length=20)
    reason = models.CharField(max_length=40, blank=True)
    count = models.PositiveBigIntegerField(default=0)
    # Of those `count` deliveries, how many the ESP reported bounced or complained about, and
    # how many it reported unsubscribed with no ledger event of that campaign for the contact
    # (those stay counted through the ledger, which is never deleted): the feedback statistics
    # keep counting after the rows are gone.
    bounced = models.PositiveBigIntegerField(default=0)
    complained = models.PositiveBigIntegerField(default=0)
    unsubscribed = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CampaignStatsArchiveQuerySet.as_manager()

    class Meta:
        verbose_name = _("archived campaign statistic")
        verbose_name_plural = _("archived campaign statistics")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "status", "reason"], name="one_archive_row_per_outcome"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.status}/{self.reason}: {self.count}"
