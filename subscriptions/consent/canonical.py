"""Keeping contacts on the canonical form of their address: older hashes, re-keying, merging.

When the canonical form changes (subscriptions.addresses.VERSIONS), `contacts_rekey` moves every
contact to the new form. Two contacts that turn out to be spellings of one mailbox are merged by
`contact_merge`, with the opt-out winning; the merged-away row keeps its ledger rows and
deliveries (the ledger is never re-pointed) and is never mailed again.

Both take an `apps` registry so the data migration can run them on its historical models; the
rest of the product calls them with the default, the live one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.conf import settings
from django.utils import timezone

from ..addresses import (
    LEGACY_VERSION,
    InvalidAddress,
    address_hash,
    address_key,
    alias_hashes,
    normalize_email,
)
from ..locales import normalize_locale, supported_locales
from ..models.choices import Action, Frequency, SkipReason, Source, SubscriptionStatus
from .ledger import Actor, record

# The most restrictive state wins a merge: an opt-out beats a consent, a consent a request
# (SubscriptionStatus is declared in that order)...
STATUS_RANK = {status: rank for rank, status in enumerate(SubscriptionStatus.values, start=1)}
# ...and the less frequent choice beats the more frequent one (Frequency's order too).
FREQUENCY_RANK = {frequency: rank for rank, frequency in enumerate(Frequency.values)}
MERGE_SOURCE = Source.ADDRESS_MERGE
MERGED_ACTION = Action.MERGED


def _model(apps: Apps, name: str):
    return apps.get_model("subscriptions", name)


def contact_alias_hashes_sync(*, contact, replace: bool = False, apps: Apps = global_apps) -> None:
    """Keep, beside the contact's own hash, the hashes of older forms of its address.

    With `replace` (the address changed) hashes of the previous address are dropped. A new
    contact usually needs none, and then this makes no query.
    """
    Alias = _model(apps, "ContactAddressHash")
    wanted = alias_hashes(contact.email) if contact.email else {}
    if replace:
        Alias.objects.filter(contact_id=contact.pk).exclude(address_hash__in=wanted).delete()
    _aliases_add(Alias, contact.pk, wanted)


def _aliases_add(Alias, contact_id: int, hashes: dict[str, int]) -> None:
    if hashes:
        Alias.objects.bulk_create(
            [Alias(contact_id=contact_id, address_hash=h, version=v) for h, v in hashes.items()],
            ignore_conflicts=True,
        )


def _ledger(
    apps: Apps, *, contact, action: str, evidence: str, topic_id=None, old="", new=""
) -> None:
    """One ledger row. Live: through ledger.record; in a migration: its historical model."""
    if apps is global_apps:
        topic = _model(apps, "Topic").objects.get(pk=topic_id) if topic_id else None
        record(
            contact=contact,
            topic=topic,
            action=action,
            by=Actor(source=MERGE_SOURCE, actor="system:address-merge", evidence=evidence),
            old_status=old,
            new_status=new,
        )
        return
    PolicyVersion = _model(apps, "PolicyVersion")
    policy = (
        PolicyVersion.objects.filter(effective_at__lte=timezone.now())
        .order_by("-effective_at", "-pk")
        .values_list("version", flat=True)
        .first()
    )
    _model(apps, "ConsentEvent").objects.create(
        contact_id=contact.pk,
        topic_id=topic_id,
        action=action,
        old_status=old,
        new_status=new,
        source=MERGE_SOURCE,
        policy_version=policy or settings.POLICY_VERSION,
        actor="system:address-merge",
        evidence=evidence,
    )


def _merged_subscription(mine, theirs) -> dict:
    """The state `keep` has on a topic after a merge: the most restrictive of the two rows."""
    rows = [row for row in (mine, theirs) if row is not None]
    winner = max(rows, key=lambda row: STATUS_RANK.get(row.status, 0))  # mine first on a tie
    state = {
        name: getattr(winner, name)
        for name in (
            "status",
            "legal_basis",
            "implied_by",
            "implied_at",
            "consented_at",
            "frequency",
            "paused_until",
        )
    }
    if state["status"] == "subscribed":
        state["frequency"] = max(
            (row.frequency for row in rows), key=lambda f: FREQUENCY_RANK.get(f, 0)
        )
        pauses = [row.paused_until for row in rows if row.paused_until is not None]
        state["paused_until"] = max(pauses) if pauses else None
    else:
        state["paused_until"] = None
    return state


def contact_merge(*, keep, other, apps: Apps = global_apps) -> None:
    """Merge `other`, another spelling of `keep`'s mailbox, into `keep`. Call in a transaction.

    Per topic the most restrictive standing wins (unsubscribed > subscribed > pending; the less
    frequent frequency, the longer pause), each change written to `keep`'s ledger as `merged`.
    Suppressions stay where they are: `keep` also matches `other`'s hashes from now on. `other`
    keeps its ledger rows and deliveries (its pending ones are skipped, and `keep`'s pending ones
    for a campaign `other` already got), gets a `merged` row, and is never mailed again; links
    mailed to it act on `keep`. External id, user and attributes move to `keep` where it has none.
    """
    Contact = _model(apps, "Contact")
    Subscription = _model(apps, "Subscription")
    Delivery = _model(apps, "Delivery")
    Alias = _model(apps, "ContactAddressHash")
    keep = Contact.objects.select_for_update().get(pk=keep.pk)
    other = Contact.objects.select_for_update().get(pk=other.pk)
    why = f"contact #{other.pk} is another spelling of this mailbox; merged into #{keep.pk}"

    mine_by_topic = {
        row.topic_id: row for row in Subscription.objects.select_for_update().filter(contact=keep)
    }
    for theirs in Subscription.objects.filter(contact=other).order_by("topic_id"):
        mine = mine_by_topic.get(theirs.topic_id)
        state = _merged_subscription(mine, theirs)
        old = mine.status if mine is not None else ""
        if mine is None:
            mine = Subscription(contact_id=keep.pk, topic_id=theirs.topic_id)
        elif all(getattr(mine, name) == value for name, value in state.items()):
            continue
        for name, value in state.items():
            setattr(mine, name, value)
        mine.save()
        _ledger(
            apps,
            contact=keep,
            action=MERGED_ACTION,
            evidence=why,
            topic_id=theirs.topic_id,
            old=old,
            new=state["status"],
        )

    # The same mailbox must not get a campaign twice: once through each spelling.
    Delivery.objects.filter(contact=other, status="pending").update(
        status="skipped", reason=SkipReason.MERGED
    )
    reached = Delivery.objects.filter(contact=other, status__in=("claimed", "sent", "failed"))
    Delivery.objects.filter(
        contact=keep, status="pending", campaign_id__in=reached.values("campaign_id")
    ).update(status="skipped", reason=SkipReason.MERGED)

    older = dict(Alias.objects.filter(contact=other).values_list("address_hash", "version"))
    if other.address_hash:
        older.setdefault(other.address_hash, LEGACY_VERSION)
    older.pop(keep.address_hash, None)
    _aliases_add(Alias, keep.pk, older)

    moved = {}
    if keep.external_id is None and other.external_id is not None:
        moved["external_id"] = other.external_id
    if keep.user_id is None and other.user_id is not None:
        moved["user_id"] = other.user_id
    if keep.birth_date is None and other.birth_date is not None:
        moved["birth_date"] = other.birth_date
    Contact.objects.filter(pk=other.pk).update(
        merged_into=keep.pk,
        email_key=None,
        external_id=None if "external_id" in moved else other.external_id,
        user_id=None if "user_id" in moved else other.user_id,
        updated_at=timezone.now(),
    )
    Contact.objects.filter(pk=keep.pk).update(
        attributes={**(other.attributes or {}), **(keep.attributes or {})},
        updated_at=timezone.now(),
        **moved,
    )
    _ledger(apps, contact=keep, action=MERGED_ACTION, evidence=why)
    _ledger(apps, contact=other, action=MERGED_ACTION, evidence=why, new="merged")


@dataclass
class RekeyReport:
    checked: int = 0
    rekeyed: list[int] = field(default_factory=list)
    merged: list[tuple[int, int]] = field(default_factory=list)  # (merged away, into)
    refused: list[int] = field(default_factory=list)  # suppressed: no longer a valid address


def contacts_rekey(*, apps: Apps = global_apps) -> RekeyReport:
    """Move every active contact to the current canonical form of its address. Idempotent.

    A contact whose canonical form belongs to another contact is merged into it
    (contact_merge). One whose address the current form refuses (an address literal, a
    single-label domain, a quoted local part that is not a plain name) stays as it is and is
    suppressed for all mail as `invalid`, with a ledger row. Call in a transaction.
    """
    Contact = _model(apps, "Contact")
    Suppression = _model(apps, "Suppression")
    report = RekeyReport()
    changes = []
    rows = (
        Contact.objects.filter(erased_at__isnull=True, merged_into__isnull=True)
        .order_by("pk")
        .values_list("pk", "email", "email_key", "address_hash")
    )
    for pk, email, key, hashed in rows.iterator(chunk_size=5000):
        report.checked += 1
        try:
            canonical = normalize_email(email)
        except InvalidAddress as error:
            changes.append((pk, None, str(error)))
            continue
        new_key, new_hash = address_key(canonical), address_hash(canonical)
        if (canonical, new_key, new_hash) != (email, key, hashed) or alias_hashes(canonical):
            changes.append((pk, canonical, ""))

    for pk, canonical, problem in changes:
        contact = Contact.objects.select_for_update().get(pk=pk)
        if canonical is None:
            report.refused.append(pk)
            if not contact.address_hash:
                continue
            _, created = Suppression.objects.get_or_create(
                address_hash=contact.address_hash,
                reason="invalid",
                defaults={
                    "scope": "all",
                    "hash_version": LEGACY_VERSION,
                    "source": MERGE_SOURCE,
                    "note": f"no longer accepted as an address: {problem}",
                },
            )
            if created:
                evidence = f"address no longer accepted: {problem}"
                _ledger(
                    apps, contact=contact, action="suppressed", evidence=evidence, new="invalid"
                )
            continue
        new_key = address_key(canonical)
        holder = (
            Contact.objects.filter(email_key=new_key, erased_at__isnull=True).exclude(pk=pk).first()
        )
        if holder is not None:
            contact_merge(keep=holder, other=contact, apps=apps)
            report.merged.append((pk, holder.pk))
            continue
        older = alias_hashes(canonical)
        new_hash = address_hash(canonical)
        if contact.address_hash and contact.address_hash != new_hash:
            older.setdefault(contact.address_hash, LEGACY_VERSION)
        if (contact.email, contact.email_key, contact.address_hash) != (
            canonical,
            new_key,
            new_hash,
        ):
            Contact.objects.filter(pk=pk).update(
                email=canonical, email_key=new_key, address_hash=new_hash
            )
            report.rekeyed.append(pk)
        _aliases_add(_model(apps, "ContactAddressHash"), pk, older)
    return report


def contact_locales_clean(*, apps: Apps = global_apps) -> int:
    """Store every contact's locale as a supported language (unknown ones: the default).

    Returns how many contacts changed. Locales are few, so this is one UPDATE per bad value.
    """
    Contact = _model(apps, "Contact")
    supported = set(supported_locales())
    changed = 0
    for value in Contact.objects.values_list("locale", flat=True).distinct():
        if value in supported:
            continue
        try:
            fixed = normalize_locale(value)
        except ValueError:
            fixed = settings.LANGUAGE_CODE
        changed += Contact.objects.filter(locale=value).update(locale=fixed)
    return changed
