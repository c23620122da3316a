from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import SuppressionReason, SuppressionScope
from .querysets import SuppressionQuerySet


class Suppression(models.Model):
    """The do-not-mail list, keyed by a keyed hash so it survives the contact's erasure."""

    address_hash = models.CharField(max_length=64, db_index=True)
    # Which canonical form of the address was hashed (subscriptions.addresses.VERSIONS): a check
    # matches every version's hash, since an erased address can never be hashed again.
    hash_version = models.PositiveSmallIntegerField(default=2, db_default=2)
    reason = models.CharField(max_length=30, choices=SuppressionReason)
    scope = models.CharField(max_length=20, choices=SuppressionScope)
    source = models.CharField(max_length=30, blank=True)
    note = models.TextField(blank=True)
    campaign = models.ForeignKey(
        "subscriptions.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SuppressionQuerySet.as_manager()

    class Meta:
        verbose_name = _("suppression")
        verbose_name_plural = _("suppressions")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["address_hash", "reason"], name="one_suppression_per_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.address_hash[:12]}… {self.reason} ({self.scope})"
