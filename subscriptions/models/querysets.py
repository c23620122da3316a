"""Filter-only vocabulary for selecting contacts, subscriptions and suppressions.

Nothing here writes or sends: services act on what these select.
"""

from __future__ import annotations

import datetime

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..addresses import InvalidAddress, address_hashes, address_key, normalize_email


def minimum_age(country: str = "") -> int:
    """The minimum age for marketing in `country` (ISO 3166 alpha-2), or the default."""
    return settings.MINIMUM_AGE_BY_COUNTRY.get((country or "").upper(), settings.MINIMUM_AGE)


def birth_date_cutoff(age: int, today: datetime.date | None = None) -> datetime.date:
    """Latest birth date of someone who is at least `age` years old on `today`."""
    today = today or timezone.localdate()
    try:
        return today.replace(year=today.year - age)
    except ValueError:  # 29 February: they come of age on 1 March in a non-leap year
        return today.replace(year=today.year - age, day=28)


def under_age_q(today: datetime.date | None = None, prefix: str = "") -> Q:
    """Q matching contacts whose birth date says they are under their country's minimum age."""
    overrides = settings.MINIMUM_AGE_BY_COUNTRY
    q = Q(**{f"{prefix}birth_date__gt": birth_date_cutoff(settings.MINIMUM_AGE, today)})
    if overrides:
        q &= ~Q(**{f"{prefix}country__in": list(overrides)})
        for country, age in overrides.items():
            q |= Q(
                **{
                    f"{prefix}country": country,
                    f"{prefix}birth_date__gt": birth_date_cutoff(age, today),
                }
            )
    return q


def _suppressed_exists(scope: str | None) -> tuple[Exists, Exists]:
    Suppression = apps.get_model("subscriptions", "Suppression")
    ContactAddressHash = apps.get_model("subscriptions", "ContactAddressHash")
    suppressions = Suppression.objects.all()
    if scope is not None:
        suppressions = suppressions.filter(scope=scope)
    own = suppressions.filter(address_hash=OuterRef("address_hash"))
    older = ContactAddressHash.objects.filter(
        contact=OuterRef("pk"), address_hash__in=suppressions.values("address_hash")
    )
    return Exists(own), Exists(older)


def address_suppressed(*, scope: str | None = None) -> Q:
    """For a Contact row: a suppression (of `scope`, default any) matches its address.

    Matches the contact's own hash and the hashes of older canonical forms it keeps
    (ContactAddressHash, usually none). To exclude, use ContactQuerySet.not_suppressed: two
    separate anti-joins, which PostgreSQL plans far better than NOT (a OR b).
    """
    own, older = _suppressed_exists(scope)
    return Q(own) | Q(older)


class ContactQuerySet(models.QuerySet):
    def active(self) -> ContactQuerySet:
        """Contacts that have not been erased, nor merged into another spelling of the address."""
        return self.filter(erased_at__isnull=True, merged_into__isnull=True)

    def for_token_key(self, key) -> models.Model | None:
        """The active contact a token's key names, following a merge (its old links still work).

        One query unless the contact was merged.
        """
        return self.following_merges(self.filter(token_key=key).first())

    def following_merges(self, contact: models.Model | None) -> models.Model | None:
        """`contact` if active; if it was merged into another spelling of its mailbox, the
        contact it was merged into; None when that one is erased (or there is none)."""
        for _hop in range(10):  # a merged contact's winner may itself have been merged
            if contact is None or contact.merged_into_id is None:
                break
            contact = self.filter(pk=contact.merged_into_id).first()
        if contact is None or contact.erased_at is not None or contact.merged_into_id is not None:
            return None
        return contact

    def with_hash(self, address_hash: str) -> ContactQuerySet:
        """Contacts whose address hashes to `address_hash` under any version: their own hash or
        an older form they keep (ContactAddressHash). The inverse of Suppression.for_contact."""
        ContactAddressHash = apps.get_model("subscriptions", "ContactAddressHash")
        older = ContactAddressHash.objects.filter(address_hash=address_hash).values("contact")
        return self.filter(Q(address_hash=address_hash) | Q(pk__in=older))

    def not_suppressed(self, *, scope: str | None = None) -> ContactQuerySet:
        """Contacts whose address (any version of it) has no suppression of `scope` (any)."""
        own, older = _suppressed_exists(scope)
        return self.exclude(own).exclude(older)

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
        at = at or timezone.now()
        subscribed = Subscription.objects.filter(
            contact=OuterRef("pk"), topic=topic, status="subscribed"
        ).filter(Q(paused_until__isnull=True) | Q(paused_until__lte=at))
        return (
            self.active()
            .filter(Exists(subscribed))
            .not_suppressed()
            .exclude(under_age_q(timezone.localdate(at)))
        )


class SubscriptionQuerySet(models.QuerySet):
    def subscribed(self) -> SubscriptionQuerySet:
        return self.filter(status="subscribed")

    def paused(self, at: datetime.datetime | None = None) -> SubscriptionQuerySet:
        return self.filter(paused_until__gt=at or timezone.now())


class SuppressionQuerySet(models.QuerySet):
    def for_address(self, email: str) -> SuppressionQuerySet:
        """Rows matching any version of the address's canonical form, or an older spelling its
        contact keeps (merged contacts): what audience queries match too. Raises InvalidAddress.
        """
        ContactAddressHash = apps.get_model("subscriptions", "ContactAddressHash")
        older = ContactAddressHash.objects.filter(
            contact__email_key=address_key(normalize_email(email)),
            contact__erased_at__isnull=True,
        ).values("address_hash")
        return self.filter(Q(address_hash__in=address_hashes(email)) | Q(address_hash__in=older))

    def for_contact(self, contact) -> SuppressionQuerySet:
        """Rows matching the contact's hash or an older form of its address it keeps."""
        ContactAddressHash = apps.get_model("subscriptions", "ContactAddressHash")
        older = ContactAddressHash.objects.filter(contact=contact).values("address_hash")
        return self.filter(Q(address_hash=contact.address_hash) | Q(address_hash__in=older))

    def blocking_all_mail(self) -> SuppressionQuerySet:
        """Suppressions that stop transactional mail too (hard bounces, invalid addresses)."""
        return self.filter(scope="all")
