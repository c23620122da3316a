from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import all_api_scopes


class ApiKey(models.Model):
    """A secret an integration sends as `Authorization: Bearer <key>`.

    Only the SHA-256 of the secret is stored: a leaked database does not leak working keys. The
    prefix is the key's first characters, enough to recognise it in the admin and in logs.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("prefix"), max_length=16, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    # The staff user who revoked the key in the console (none for a key revoked elsewhere).
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("revoked by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    # ApiScope values. Keys made before scopes existed were given all of them.
    scopes = models.JSONField(_("scopes"), default=all_api_scopes, editable=False)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def has_scope(self, scope: str) -> bool:
        return isinstance(self.scopes, list) and scope in self.scopes
