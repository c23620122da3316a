"""Proxy models that exist only for admin pages: each gives the admin a page of its own over an
existing table (a report, an upload form, a desk with its own actions). They hold no rule and
no data of their own, and no code outside admin/ should use them; a proxy needs no migration
of its table, so they may live here, apart from the domain models they look at."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .campaigns import Campaign
from .contacts import Contact


class CampaignComplaints(Campaign):
    """Campaigns seen through their complaint rates (admin/feedback.py's report)."""

    class Meta:
        proxy = True
        verbose_name = _("campaign report")
        verbose_name_plural = _("campaign reports")


class DataSubject(Contact):
    """Contacts seen from the privacy desk: the admin list with export and erasure actions
    (admin/privacy.py)."""

    class Meta:
        proxy = True
        verbose_name = _("privacy request")
        verbose_name_plural = _("privacy requests")
