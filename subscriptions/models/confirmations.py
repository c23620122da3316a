from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .contacts import Contact, Topic


def _nonce() -> str:
    return secrets.token_urlsafe(24)


class ConfirmationRequest(models.Model):
    """One double opt-in email: its link confirms these topics once, and only while no later
    opt-out or complaint of the contact has overtaken it.

    The confirm token carries only the nonce (and the contact's random token key), so a used
    or overtaken link is recognised by this row, not by the signature. An age confirmation
    given on the sign-up form waits here until the person confirms: a stranger typing a known
    address must not set it on the contact.
    """

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    topics = models.ManyToManyField(Topic, related_name="+")
    nonce = models.CharField(max_length=40, unique=True, default=_nonce, editable=False)
    age_confirmed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("confirmation request")
        verbose_name_plural = _("confirmation requests")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"confirmation for contact #{self.contact_id}"
