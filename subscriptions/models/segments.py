from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .contacts import Topic


class Segment(models.Model):
    """A saved, reusable narrowing of a topic's audience: groups of `field op value` conditions.

    `rules` is checked and compiled to SQL by subscriptions.campaigns.segments (the one compile
    the audience build, the Review count, exports and the API count all use); a Segment is
    written through its services so no unchecked rule is ever stored.
    """

    name = models.CharField(_("name"), max_length=200)
    # Optional: a segment of one topic may only narrow that topic's campaigns, and its
    # "subscribed since" conditions read that topic's subscriptions.
    topic = models.ForeignKey(
        Topic,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="segments",
        verbose_name=_("topic"),
    )
    rules = models.JSONField(_("rules"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
