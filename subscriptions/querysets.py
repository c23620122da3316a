"""Filter-only vocabulary for selecting contacts, subscriptions and suppressions.

Nothing here writes or sends: services act on what these select.
"""

from __future__ import annotations

import datetime

from django.apps import apps
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from .addresses import InvalidAddress, address_key, normalize_email
from .policy import under_age_q


class ContactQuerySet(models.QuerySet):
    def active(self) -> ContactQuerySet:
        """Contacts that have not been erased."""
        return self.filter(erased_at__isnull=True)

    def by_email(self, raw: str) -> ContactQuerySet:
        """The (at most one) active contact with this address, matched case-insensitively."""
        try:
            key = address_key(normalize_email(raw))
        except InvalidAddress:
            return self.none()
        return self.active().filter(email_key=key)

    def marketable(self, topic, at: datetime.datetime | None = None) -> ContactQuerySet:
        """Exactly the contacts who may be sent marketing on `topic` at `at` (default now).

        Subscribed to the topic, not paused, on no suppression list (any scope blocks
        marketing), not erased, and not under the minimum age their birth date says.
        """
        Subscription = apps.get_model("subscriptions", "Subscription")
        Suppression = apps.get_model("subscriptions", "Suppression")
        at = at or timezone.now()
        subscribed = Subscription.objects.filter(
            contact=OuterRef("pk"), topic=topic, status="subscribed"
        ).filter(Q(paused_until__isnull=True) | Q(paused_until__lte=at))
        suppressed = Suppression.objects.filter(address_hash=OuterRef("address_hash"))
        return (
            self.active()
            .filter(Exists(subscribed))
            .exclude(Exists(suppressed))
            .exclude(under_age_q(timezone.localdate(at)))
        )


class SubscriptionQuerySet(models.QuerySet):
    def subscribed(self) -> SubscriptionQuerySet:
        return self.filter(status="subscribed")

    def paused(self, at: datetime.datetime | None = None) -> SubscriptionQuerySet:
        return self.filter(paused_until__gt=at or timezone.now())


class SuppressionQuerySet(models.QuerySet):
    def for_hash(self, address_hash: str) -> SuppressionQuerySet:
        return self.filter(address_hash=address_hash)

    def blocking_all_mail(self) -> SuppressionQuerySet:
        """Suppressions that stop transactional mail too (hard bounces, invalid addresses)."""
        return self.filter(scope="all")
