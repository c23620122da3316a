"""Configurable consent policy: minimum age and the policy version in force."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from ..consent.tokens import preferences_url
from ..mail.transactional import AddressSuppressed, send_transactional
from ..models import Contact, PolicyVersion, Subscription
from ..models.choices import LinkVia

# --- publishing policy versions --------------------------------------------------------------


class PolicyNoticeTooShort(ValueError):
    """A material change must be announced at least POLICY_NOTICE_MIN_DAYS ahead."""

    code = "policy_notice_too_short"


def policy_check_notice_period(*, effective_at: datetime.datetime, is_material: bool) -> None:
    """Raise PolicyNoticeTooShort if a material change leaves too little notice."""
    earliest = timezone.now() + datetime.timedelta(days=settings.POLICY_NOTICE_MIN_DAYS)
    if is_material and effective_at < earliest:
        raise PolicyNoticeTooShort(
            f"A material change must take effect at least {settings.POLICY_NOTICE_MIN_DAYS} "
            f"days after it is announced (on or after {earliest:%Y-%m-%d %H:%M} UTC)."
        )


def policy_publish(
    *,
    version: str,
    effective_at: datetime.datetime,
    is_material: bool,
    summary: str = "",
) -> PolicyVersion:
    """Record a new policy version; a material one schedules a notice to every contact.

    The notice goes (as transactional mail, no marketing headers) to every contact with any
    subscription, unsubscribed ones included, since the policy governs the data kept about them
    too. Raises PolicyNoticeTooShort when a material change takes effect sooner than
    POLICY_NOTICE_MIN_DAYS from now.
    """
    policy_check_notice_period(effective_at=effective_at, is_material=is_material)
    with transaction.atomic():
        policy = PolicyVersion.objects.create(
            version=version, effective_at=effective_at, is_material=is_material, summary=summary
        )
        if is_material:
            transaction.on_commit(lambda: _enqueue_notices(policy.pk))
    return policy


def _enqueue_notices(policy_id: int) -> None:
    # The one service→task import of privacy, lazy: tasks.py imports this module.
    from .tasks import send_policy_notices

    send_policy_notices.delay(policy_id)


def policy_notice_recipients(after_id: int = 0) -> QuerySet[Contact]:
    """Active contacts with any subscription (any status) that can receive mail, by id."""
    return (
        Contact.objects.active()
        .filter(pk__gt=after_id)
        .filter(Exists(Subscription.objects.filter(contact=OuterRef("pk"))))
        .not_suppressed(scope="all")
        .order_by("pk")
    )


def policy_send_notices(*, policy: PolicyVersion) -> int:
    """Queue the change notice for every recipient not yet reached; resumable by cursor.

    Streams contacts in id order (constant memory) and advances the policy's cursor after each
    chunk, so a retried task continues where it stopped. Returns how many were queued now.
    """
    chunk_size = settings.POLICY_NOTICE_CHUNK_SIZE
    queued = 0
    while True:
        policy.refresh_from_db(fields=["notice_cursor", "notices_sent"])
        chunk = list(
            policy_notice_recipients(policy.notice_cursor).only(
                "pk", "email", "locale", "token_key"
            )[:chunk_size]
        )
        if not chunk:
            break
        with transaction.atomic():
            sent_now = 0
            for contact in chunk:
                try:
                    send_transactional(
                        to=contact.email,
                        template="policy_notice",
                        context={
                            "policy": policy,
                            "preferences_url": preferences_url(contact, via=LinkVia.POLICY_NOTICE),
                        },
                        locale=contact.locale,
                        kind=f"policy_notice:{policy.version}",
                    )
                except AddressSuppressed:
                    continue
                sent_now += 1
            PolicyVersion.objects.filter(pk=policy.pk).update(
                notice_cursor=chunk[-1].pk, notices_sent=policy.notices_sent + sent_now
            )
            queued += sent_now
    PolicyVersion.objects.filter(pk=policy.pk).update(notices_finished_at=timezone.now())
    return queued


def upcoming_policy_change(now: datetime.datetime | None = None) -> PolicyVersion | None:
    """The next material PolicyVersion not yet in force, or None (shown on preference pages)."""
    return (
        PolicyVersion.objects.filter(is_material=True, effective_at__gt=now or timezone.now())
        .order_by("effective_at")
        .first()
    )
