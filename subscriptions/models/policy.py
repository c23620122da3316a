from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PolicyVersion(models.Model):
    """A version of the privacy policy. The one in force is recorded on every ConsentEvent."""

    version = models.CharField(_("version"), max_length=40, unique=True)
    effective_at = models.DateTimeField(_("takes effect at"), db_index=True)
    is_material = models.BooleanField(
        _("material change"),
        default=False,
        help_text=_("Material changes are announced to every contact ahead of time."),
    )
    summary = models.TextField(_("summary of the change"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Notices go out in chunks ordered by contact id; the cursor makes a retried task resume.
    notice_cursor = models.BigIntegerField(default=0, editable=False)
    notices_sent = models.PositiveIntegerField(default=0, editable=False)
    notices_finished_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("policy version")
        verbose_name_plural = _("policy versions")
        ordering = ["-effective_at"]

    def __str__(self) -> str:
        return self.version


def current_policy_version(at: datetime.datetime | None = None) -> str:
    """The privacy-policy version in force at `at` (default now), recorded on every ConsentEvent.

    The latest PolicyVersion that has taken effect; settings.POLICY_VERSION before any exists.
    """
    version = (
        PolicyVersion.objects.filter(effective_at__lte=at or timezone.now())
        .order_by("-effective_at", "-pk")
        .values_list("version", flat=True)
        .first()
    )
    return version or settings.POLICY_VERSION
