"""Retention: keep personal data only as long as the settings promise.

Each rule is one function taking `now` and `dry_run`, acting set-based on exactly the rows its
setting selects, and returning how many rows it changed (or would change). `apply_retention`
runs them all; the daily beat task and `manage.py apply_retention` call it.

- never-confirmed contacts are erased after RETENTION_PENDING_DAYS (no suppression: they never
  opted in nor out, and may sign up again);
- implied consent (soft opt-in) lapses RETENTION_IMPLIED_PURCHASE_DAYS after the last purchase
  and RETENTION_IMPLIED_INQUIRY_DAYS after the last inquiry, unless renewed by a new signal
  (consent.implied makes both changes: retention only selects);
- IP addresses and user agents in the ledger (and the user agents of counted link opens) are
  blanked after RETENTION_LEDGER_NETWORK_DAYS;
- finished delivery rows older than RETENTION_DELIVERY_DAYS are folded into
  CampaignStatsArchive and deleted.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..campaigns.stats import esp_only_unsubscribes
from ..consent.implied import subscriptions_lapse_soft_opt_in
from ..consent.ledger import Actor
from ..models import (
    CampaignStatsArchive,
    ConfirmationRequest,
    ConsentEvent,
    Contact,
    Delivery,
    LinkHit,
    Subscription,
)
from ..models.choices import (
    CampaignStatus,
    DeliveryStatus,
    ImpliedBy,
    LegalBasis,
    Source,
    SubscriptionStatus,
)
from .erasure import contact_erase_unconfirmed
from .rights import ContactAlreadyErased

RETENTION_ACTOR = Actor(source=Source.RETENTION, actor="retention")

# Campaigns whose deliveries will not change any more.
FINISHED_CAMPAIGNS = (CampaignStatus.SENT, CampaignStatus.CANCELLED)
# Delivery outcomes that are final (whatever webhook statuses are added, they are not pending).
OPEN_DELIVERY_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.CLAIMED)


def _days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


# --- what each rule selects ------------------------------------------------------------------


def stale_unconfirmed_contacts(now: datetime.datetime):
    """Contacts whose only subscriptions are pending and older than RETENTION_PENDING_DAYS."""
    cutoff = now - _days(settings.RETENTION_PENDING_DAYS)
    any_subscription = Subscription.objects.filter(contact=OuterRef("pk"))
    not_stale_pending = any_subscription.filter(
        ~Q(status=SubscriptionStatus.PENDING) | Q(created_at__gte=cutoff)
    )
    return (
        Contact.objects.active().filter(Exists(any_subscription)).exclude(Exists(not_stale_pending))
    )


def lapsed_implied_subscriptions(now: datetime.datetime):
    """Soft opt-in subscriptions whose purchase or inquiry is older than its setting allows."""
    purchase = now - _days(settings.RETENTION_IMPLIED_PURCHASE_DAYS)
    inquiry = now - _days(settings.RETENTION_IMPLIED_INQUIRY_DAYS)
    return (
        Subscription.objects.filter(
            status=SubscriptionStatus.SUBSCRIBED, legal_basis=LegalBasis.SOFT_OPT_IN
        )
        .alias(signal_at=Coalesce("implied_at", "consented_at", "created_at"))
        .filter(
            Q(implied_by=ImpliedBy.PURCHASE, signal_at__lt=purchase)
            | Q(implied_by=ImpliedBy.INQUIRY, signal_at__lt=inquiry)
        )
    )


def ledger_rows_to_minimise(now: datetime.datetime):
    cutoff = now - _days(settings.RETENTION_LEDGER_NETWORK_DAYS)
    return ConsentEvent.objects.filter(created_at__lt=cutoff).filter(
        Q(ip_address__isnull=False) & ~Q(ip_address="") | ~Q(user_agent="")
    )


def deliveries_to_archive(now: datetime.datetime):
    cutoff = now - _days(settings.RETENTION_DELIVERY_DAYS)
    return (
        Delivery.objects.filter(campaign__status__in=FINISHED_CAMPAIGNS)
        .exclude(status__in=OPEN_DELIVERY_STATUSES)
        .alias(done_at=Coalesce("sent_at", "claimed_at", "campaign__finished_at"))
        .filter(done_at__lt=cutoff)
    )


# --- the rules -------------------------------------------------------------------------------


def retention_erase_unconfirmed(*, now: datetime.datetime, dry_run: bool = False) -> int:
    """Erase (without suppression) contacts who never confirmed within RETENTION_PENDING_DAYS."""
    contacts = stale_unconfirmed_contacts(now)
    if dry_run:
        return contacts.count()
    done = 0
    for contact in contacts.iterator(chunk_size=500):
        try:
            contact_erase_unconfirmed(contact=contact, by=RETENTION_ACTOR)
        except ContactAlreadyErased:
            continue
        done += 1
    return done


def retention_lapse_implied(*, now: datetime.datetime, dry_run: bool = False) -> int:
    """Unsubscribe soft opt-ins whose purchase/inquiry is too old, with a `lapsed` ledger row
    (through consent, which re-checks each under its lock: a purchase may renew it meanwhile)."""
    subscriptions = lapsed_implied_subscriptions(now)
    if dry_run:
        return subscriptions.count()
    return subscriptions_lapse_soft_opt_in(selection=subscriptions, by=RETENTION_ACTOR)


def retention_minimise_ledger(*, now: datetime.datetime, dry_run: bool = False) -> int:
    """Blank IP addresses and user agents of ledger rows older than the setting."""
    rows = ledger_rows_to_minimise(now)
    if dry_run:
        return rows.count()
    # The ledger trigger allows exactly this change: personal fields blanked, facts untouched.
    return rows.update(ip_address=None, user_agent="")


def retention_minimise_link_hits(*, now: datetime.datetime, dry_run: bool = False) -> int:
    """Blank the user agents of counted link opens older than the ledger's setting.

    Counted by their last open: a day's row keeps the latest opener's user agent.
    """
    cutoff = now - _days(settings.RETENTION_LEDGER_NETWORK_DAYS)
    rows = LinkHit.objects.filter(last_at__lt=cutoff).exclude(user_agent="")
    return rows.count() if dry_run else rows.update(user_agent="")


def retention_delete_confirmation_requests(*, now: datetime.datetime, dry_run: bool = False) -> int:
    """Delete confirmation requests whose link has expired (a day after, to be sure): a link
    past CONFIRMATION_MAX_AGE_HOURS is refused before its row is looked up, so the row only
    kept a record of a request (and its age box) that nobody can act on any more."""
    cutoff = now - datetime.timedelta(hours=settings.CONFIRMATION_MAX_AGE_HOURS, days=1)
    rows = ConfirmationRequest.objects.filter(created_at__lt=cutoff)
    return rows.count() if dry_run else rows.delete()[1].get(ConfirmationRequest._meta.label, 0)


def retention_archive_deliveries(*, now: datetime.datetime, dry_run: bool = False) -> int:
    """Fold old finished deliveries into CampaignStatsArchive counts, then delete them.

    The archive keeps, per outcome, how many bounced, complained and were reported
    unsubscribed by the ESP alone (an unsubscribe through the campaign's links stays counted
    through the ledger), so no statistic of the campaign falls when its rows go.
    """
    if dry_run:
        return deliveries_to_archive(now).count()
    done = 0
    while True:
        with transaction.atomic():
            ids = list(
                deliveries_to_archive(now)
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("pk", flat=True)[: settings.RETENTION_BATCH_SIZE]
            )
            if not ids:
                return done
            batch = Delivery.objects.filter(pk__in=ids)
            esp_only = esp_only_unsubscribes(batch).values("pk")
            counts = batch.values("campaign_id", "status", "reason").annotate(
                n=Count("pk"),
                bounced=Count("pk", filter=Q(bounced_at__isnull=False)),
                complained=Count("pk", filter=Q(complained_at__isnull=False)),
                unsubscribed=Count("pk", filter=Q(pk__in=esp_only)),
            )
            for row in counts:
                archive, _created = CampaignStatsArchive.objects.get_or_create(
                    campaign_id=row["campaign_id"], status=row["status"], reason=row["reason"]
                )
                CampaignStatsArchive.objects.filter(pk=archive.pk).update(
                    count=F("count") + row["n"],
                    bounced=F("bounced") + row["bounced"],
                    complained=F("complained") + row["complained"],
                    unsubscribed=F("unsubscribed") + row["unsubscribed"],
                )
            Delivery.objects.filter(pk__in=ids).delete()
            done += len(ids)


RULES = {
    "unconfirmed_contacts_erased": retention_erase_unconfirmed,
    "implied_consents_lapsed": retention_lapse_implied,
    "ledger_rows_minimised": retention_minimise_ledger,
    "link_hits_minimised": retention_minimise_link_hits,
    "confirmation_requests_deleted": retention_delete_confirmation_requests,
    "deliveries_archived": retention_archive_deliveries,
}


def apply_retention(*, now: datetime.datetime | None = None, dry_run: bool = False) -> dict:
    """Run every retention rule; returns {rule name: rows changed (or that would change)}."""
    now = now or timezone.now()
    return {name: rule(now=now, dry_run=dry_run) for name, rule in RULES.items()}
