"""Filter-only vocabulary for selecting contacts, subscriptions and suppressions.

Nothing here writes or sends: services act on what these select.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import (
    Case,
    Count,
    Exists,
    Expression,
    ExpressionWrapper,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact
from django.utils import timezone

from ..addresses import InvalidAddress, address_hashes, address_key, normalize_email
from .choices import DeliveryStatus, Frequency, SkipReason, SubscriptionStatus


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

    def marketable(
        self, topic, at: datetime.datetime | None = None, *, campaign=None
    ) -> ContactQuerySet:
        """Exactly the contacts who may be sent marketing on `topic` at `at` (default now).

        `campaign`: the campaign being sent, whose own claimed and sent deliveries never count
        against its recipients' frequency or cap. Without it (building an audience, before the
        campaign has deliveries) every delivery counts.

        Every blocker of MARKETABILITY_BLOCKERS excluded, set-based: a contact condition as
        its own anti-join (or plain condition), and all the subscription conditions inside ONE
        semi-join on the contact's subscription to the topic. (Each subscription blocker as a
        join of its own planned as a nested loop over the whole topic per contact on tables
        not yet analysed, e.g. right after an import.)
        """
        at = at or timezone.now()
        selected = self
        subscriptions = _topic_subscriptions(topic)
        for blocker in MARKETABILITY_BLOCKERS:
            for condition in blocker.conditions(topic, at, campaign=campaign):
                if blocker.on_subscription:
                    subscriptions = subscriptions.exclude(condition)
                elif isinstance(condition, Q):
                    selected = selected.exclude(condition)
                else:  # negated, (NOT) EXISTS plans as an anti- (semi-) join
                    selected = selected.filter(~condition)
        return selected.filter(Exists(subscriptions))

    def with_block_reason(
        self, topic, at: datetime.datetime | None = None, *, campaign=None
    ) -> ContactQuerySet:
        """Annotate `block_reason`: the first blocker in table order that keeps each contact from
        marketing on `topic` at `at`, or "" for a marketable contact.

        The same expressions marketable() uses, so the reason a delivery is skipped always
        names the condition that blocked it. A subscription blocker applies when the contact
        has no subscription to the topic left once it and the earlier ones are excluded.
        `campaign` as in marketable().
        """
        at = at or timezone.now()
        whens = []
        subscriptions = _topic_subscriptions(topic)
        for blocker in MARKETABILITY_BLOCKERS:
            matches = Q()
            for condition in blocker.conditions(topic, at, campaign=campaign):
                if blocker.on_subscription:
                    subscriptions = subscriptions.exclude(condition)
                elif isinstance(condition, Q):
                    matches |= _excluded_by(condition)
                else:
                    matches |= Q(condition)
            if blocker.on_subscription:
                matches = Q(~Exists(subscriptions))
            if matches:  # a blocker switched off (no cap configured) names nobody
                whens.append(When(matches, then=Value(str(blocker.reason))))
        # A table without subscription blockers still requires a subscription to the topic.
        whens.append(When(~Exists(subscriptions), then=Value(str(SkipReason.UNSUBSCRIBED))))
        return self.annotate(
            block_reason=Case(*whens, default=Value(""), output_field=models.CharField())
        )


# --- the marketability rule (DESIGN rule 1), written once ----------------------------------------


@dataclass(frozen=True)
class Blocker:
    """One reason a contact may not be sent marketing on a topic.

    `conditions(topic, at, campaign=None)` are Q or EXISTS expressions on Contact, or with
    `on_subscription` Q on the contact's Subscription to the topic; the contact is blocked when
    any is true. `campaign` is the campaign being sent, or None (see marketable()).
    Several conditions rather than one OR let marketable() exclude each with its own anti-join,
    which PostgreSQL plans far better than NOT (a OR b). A Q that can be NULL blocks (it is
    excluded), so test attributes with `attributes__contains`, which is never NULL.
    """

    reason: str
    conditions: Callable[..., tuple[Q | Expression, ...]]
    on_subscription: bool = False


def _excluded_by(condition: Q) -> Q:
    """True exactly for the rows `.exclude(condition)` drops, as marketable() does: where the
    condition is true, and where it is NULL in a way Django does not guard against (a missing
    JSON key), so the skip reason and marketable() agree on every contact."""
    kept = Coalesce(
        ExpressionWrapper(~condition, output_field=models.BooleanField()),
        Value(False),
        output_field=models.BooleanField(),
    )
    return ~Q(kept)


def _topic_subscriptions(topic) -> models.QuerySet:
    Subscription = apps.get_model("subscriptions", "Subscription")
    return Subscription.objects.filter(contact=OuterRef("pk"), topic=topic)


def _erased(topic, at: datetime.datetime, campaign=None) -> tuple[Q, ...]:
    return (Q(erased_at__isnull=False),)


def _merged(topic, at: datetime.datetime, campaign=None) -> tuple[Q, ...]:
    # The winner of a merge is mailed instead; its own subscriptions decide.
    return (Q(merged_into__isnull=False),)


def _suppressed(topic, at: datetime.datetime, campaign=None) -> tuple[Exists, ...]:
    # Any scope blocks marketing; every version of the address's hash is matched.
    return _suppressed_exists(None)


def _not_subscribed(topic, at: datetime.datetime, campaign=None) -> tuple[Q, ...]:
    # Unsubscribed from the topic or still pending confirmation (never subscribed: no row).
    return (~Q(status=SubscriptionStatus.SUBSCRIBED),)


def _paused(topic, at: datetime.datetime, campaign=None) -> tuple[Q, ...]:
    return (Q(paused_until__gt=at),)


def _under_age(topic, at: datetime.datetime, campaign=None) -> tuple[Q, ...]:
    return (under_age_q(timezone.localdate(at)),)


# The rolling window of each frequency that limits a topic's campaigns (DESIGN: Subscription):
# at most one campaign of the topic per window. Immediate has none: every campaign.
# Like every blocker, frequency and the cap act twice: the audience build (which inserts only
# marketable contacts) leaves out whoever is blocked when the campaign starts, with no Delivery;
# the claim-time re-check skips, with reason `frequency` or `contact_cap`, whoever became blocked
# since (another campaign of the topic reached them after this audience was built).
FREQUENCY_WINDOWS: dict[str, datetime.timedelta] = {
    Frequency.DAILY: datetime.timedelta(days=1),
    Frequency.WEEKLY: datetime.timedelta(days=7),
    Frequency.MONTHLY: datetime.timedelta(days=30),
}


def _sent_since(since: datetime.datetime) -> Q:
    """Deliveries sent after `since`, or claimed after it and so perhaps leaving right now: two
    campaigns sent at once must not both reach a weekly contact, so a claim counts at once."""
    return Q(status=DeliveryStatus.SENT, sent_at__gt=since) | Q(
        status=DeliveryStatus.CLAIMED, claimed_at__gt=since
    )


def _other_deliveries(campaign, **filters) -> models.QuerySet:
    Delivery = apps.get_model("subscriptions", "Delivery")
    deliveries = Delivery.objects.filter(**filters)
    if campaign is not None:  # its own claims must not block its recipients
        deliveries = deliveries.exclude(campaign=campaign)
    return deliveries


def _frequency(topic, at: datetime.datetime, campaign=None) -> tuple[Q, ...]:
    # One EXISTS for every frequency, each window tied to the subscription's own frequency (no
    # CASE: a plain OR the planner checks per delivery row of the contact).
    within_window = Q()
    for frequency, window in FREQUENCY_WINDOWS.items():
        within_window |= Q(Exact(OuterRef("frequency"), Value(frequency))) & _sent_since(
            at - window
        )
    recent = _other_deliveries(campaign, contact=OuterRef("contact"), campaign__topic=topic)
    return (Q(frequency__in=list(FREQUENCY_WINDOWS)) & Q(Exists(recent.filter(within_window))),)


def _contact_cap(topic, at: datetime.datetime, campaign=None) -> tuple[Exists, ...]:
    cap = settings.MARKETING_MAX_PER_CONTACT
    if cap is None:
        return ()
    count, window = cap
    recent = _other_deliveries(campaign, contact=OuterRef("pk")).filter(_sent_since(at - window))
    # "At least `count` rows": EXISTS of the count-th row (OFFSET count-1 LIMIT 1) stops
    # reading after `count` index entries, where COUNT(*) would read them all.
    return (Exists(recent.order_by()[count - 1 : count]),)


# In the order a skip reason is named when several apply. Unsubscribing from all mail is a
# suppression (reason unsubscribed_all), so it is reported as `suppressed`.
MARKETABILITY_BLOCKERS: tuple[Blocker, ...] = (
    Blocker(SkipReason.ERASED, _erased),
    Blocker(SkipReason.MERGED, _merged),
    Blocker(SkipReason.SUPPRESSED, _suppressed),
    Blocker(SkipReason.UNSUBSCRIBED, _not_subscribed, on_subscription=True),
    Blocker(SkipReason.PAUSED, _paused, on_subscription=True),
    Blocker(SkipReason.UNDER_AGE, _under_age),
    Blocker(SkipReason.FREQUENCY, _frequency, on_subscription=True),
    Blocker(SkipReason.CONTACT_CAP, _contact_cap),
)


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


class DeliveryQuerySet(models.QuerySet):
    def feedback_counts(self) -> dict[str, int]:
        """How many of these deliveries bounced, complained, unsubscribed, were delivered,
        opened and clicked (each delivery counted once per kind): what the ESPs reported."""
        return self.aggregate(
            bounced=Count("pk", filter=Q(bounced_at__isnull=False)),
            complained=Count("pk", filter=Q(complained_at__isnull=False)),
            unsubscribed=Count("pk", filter=Q(unsubscribed_at__isnull=False)),
            delivered=Count("pk", filter=Q(delivered_at__isnull=False)),
            opened=Count("pk", filter=Q(opened_at__isnull=False)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
        )


class CampaignStatsArchiveQuerySet(models.QuerySet):
    def outcome_rows(self) -> list[dict]:
        """These archived outcomes as {status, reason, n} rows, the shape of a live per-status
        count, so a statistic adds them to its `Delivery.values("status", "reason")` rows."""
        return [
            {"status": status, "reason": reason, "n": count}
            for status, reason, count in self.values_list("status", "reason", "count")
        ]
