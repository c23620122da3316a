"""Outbound events: written to the outbox in the same transaction as the change they report.

The one place events are emitted. The ledger (ledger.record) calls `ledger_row_emit` for every
row it writes, so every road that changes consent (pages, one-click, API, import, ESP webhook,
retention, admin) emits alike; suppression_add emits `suppression.added`, the campaign
lifecycle `campaign.finished`, and an import emits its ledger rows' events set-based with
`subscription_changes_emit`. Delivery lives above (integrations.webhooks): this module only
writes rows and, on commit, asks the `webhooks` queue to deliver them.

Nothing is written unless an active endpoint wants the event's type, so a deployment without
webhooks pays one cache read per change, and an import or a campaign nothing at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import current_app
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, QuerySet

from ..models import ConsentEvent, Contact, OutboundEvent, WebhookDelivery, WebhookEndpoint
from ..models.choices import Action, OutboundEventType, SubscriptionStatus, WebhookDeliveryStatus

log = logging.getLogger(__name__)

# The task that delivers due deliveries (integrations.tasks), named, not imported: consent sits
# below integrations.
DELIVER_TASK = "subscriptions.tasks.webhooks.deliver_webhooks"
WANTED_TYPES_CACHE_KEY = "webhooks:wanted-event-types"
# Bounds how long a process may miss a new endpoint when a cache invalidation raced a read.
WANTED_TYPES_TTL_SECONDS = 30


# --- which types anyone wants -------------------------------------------------------------------


def _active_endpoints_wanting(event_type: str) -> list[int]:
    endpoints = WebhookEndpoint.objects.filter(is_active=True).values_list("id", "events")
    return [pk for pk, events in endpoints if event_type in events]


def wanted_event_types() -> frozenset[str]:
    """The event types at least one active endpoint receives (cached; the database decides when
    the cache cannot answer: consent changes never fail for a cache)."""
    try:
        cached = cache.get(WANTED_TYPES_CACHE_KEY)
    except Exception:  # Redis down: an unsubscribe must still commit (rule 2)
        cached = None
    if cached is not None:
        return frozenset(cached)
    wanted: set[str] = set()
    for events in WebhookEndpoint.objects.filter(is_active=True).values_list("events", flat=True):
        wanted.update(events)
    try:
        cache.set(WANTED_TYPES_CACHE_KEY, sorted(wanted), WANTED_TYPES_TTL_SECONDS)
    except Exception:
        log.warning("could not cache the wanted webhook event types", exc_info=True)
    return frozenset(wanted)


def wanted_event_types_changed() -> None:
    """Forget the cached types (an endpoint was created, changed or deleted): now and on commit,
    so no process caches what the committing transaction is about to change."""

    def forget() -> None:
        try:
            cache.delete(WANTED_TYPES_CACHE_KEY)
        except Exception:
            log.warning("could not forget the wanted webhook event types", exc_info=True)

    forget()
    transaction.on_commit(forget)


# --- writing the outbox -------------------------------------------------------------------------


def delivery_kick() -> None:
    """Ask a worker on the `webhooks` queue to deliver what is due. A broker that is down loses
    nothing: the rows are committed and the beat sweep kicks again."""
    try:
        current_app.send_task(DELIVER_TASK, queue="webhooks")
    except Exception:
        log.warning("could not queue webhook delivery; the sweep will", exc_info=True)


def _kick_on_commit() -> None:
    # One kick per transaction, however many events it wrote (an unsubscribe-all writes several).
    pending = getattr(connection, "run_on_commit", [])
    if any(entry[1] is delivery_kick for entry in pending):
        return
    transaction.on_commit(delivery_kick)


def outbound_event_emit(
    *, event_type: str, data: dict | Callable[[], dict], contact_id: int | None = None
) -> OutboundEvent | None:
    """Write one event and a delivery per active endpoint that wants it; None when none does.

    Call inside the transaction of the change: the event commits (or rolls back) with it. `data`
    may be a callable, computed only when someone wants the event.
    """
    if event_type not in wanted_event_types():
        return None
    endpoint_ids = _active_endpoints_wanting(event_type)
    if not endpoint_ids:
        return None
    event = OutboundEvent.objects.create(
        type=event_type, data=data() if callable(data) else data, contact_id=contact_id
    )
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint_id=pk, event=event, contact_id=contact_id) for pk in endpoint_ids
    )
    _kick_on_commit()
    return event


def _subscription_changed_data(row: ConsentEvent, contact: Contact, topic_slug: str) -> dict:
    return {
        "contact_id": contact.pk,
        "external_id": contact.external_id,
        "email": contact.email,
        "topic": topic_slug,
        "old_status": row.old_status or None,
        "new_status": row.new_status,
        "source": row.source,
        "campaign_id": row.campaign_id,
    }


# A subscription's status before a change: none yet, or one of SubscriptionStatus (a resume
# from "paused" is no status change: pauses are not announced).
_OLD_STATUSES = ("", *SubscriptionStatus.values)


def _changes_status(row: ConsentEvent) -> bool:
    return (
        row.topic_id is not None
        and row.new_status in SubscriptionStatus.values
        and row.old_status in _OLD_STATUSES
        and row.old_status != row.new_status
    )


def ledger_row_emit(*, row: ConsentEvent, contact: Contact) -> None:
    """The events a ledger row stands for (ledger.record calls it for every row it writes).

    A subscription's status change → `subscription.changed`; an unsubscribe-all →
    `contact.unsubscribed_all`; an erasure → `contact.erased` (no address), and the addresses
    and external ids in the contact's earlier events are blanked (the erased event's own
    external id is blanked once delivered: integrations.webhooks).
    """
    if _changes_status(row):
        outbound_event_emit(
            event_type=OutboundEventType.SUBSCRIPTION_CHANGED,
            data=lambda: _subscription_changed_data(row, contact, row.topic.slug),
            contact_id=contact.pk,
        )
    elif row.action == Action.UNSUBSCRIBED_ALL:
        outbound_event_emit(
            event_type=OutboundEventType.CONTACT_UNSUBSCRIBED_ALL,
            data={
                "contact_id": contact.pk,
                "external_id": contact.external_id,
                "email": contact.email,
                "source": row.source,
            },
            contact_id=contact.pk,
        )
    elif row.action == Action.ERASED:
        outbound_events_forget_address(contact_id=contact.pk)
        outbound_event_emit(
            event_type=OutboundEventType.CONTACT_ERASED,
            data={"contact_id": contact.pk, "external_id": contact.external_id},
            contact_id=contact.pk,
        )


def outbound_events_forget_address(*, contact_id: int) -> int:
    """Blank the address and external id in every outbox event of an erased contact (erasure
    leaves no copy); events not yet delivered still go, with `email` empty and `external_id`
    null: `contact.erased`, written next, tells the receiver whose they were. Returns how many
    were changed."""
    changed = 0
    for event in OutboundEvent.objects.filter(contact_id=contact_id):
        forgotten = {**event.data}
        if forgotten.get("email"):
            forgotten["email"] = ""
        if forgotten.get("external_id") is not None:
            forgotten["external_id"] = None
        if forgotten != event.data:
            event.data = forgotten
            event.save(update_fields=["data"])
            changed += 1
    return changed


# --- set-based: an import's ledger rows ---------------------------------------------------------

_SET_BASED_SQL = """
WITH new_events AS (
    INSERT INTO {event_table} (uid, type, data, contact_id, created_at)
    SELECT gen_random_uuid(), %s, jsonb_build_object(
            'contact_id', ce.contact_id, 'external_id', c.external_id, 'email', c.email,
            'topic', t.slug, 'old_status', NULLIF(ce.old_status, ''),
            'new_status', ce.new_status, 'source', ce.source, 'campaign_id', ce.campaign_id),
        ce.contact_id, now()
    FROM {ledger_table} ce
    JOIN {contact_table} c ON c.id = ce.contact_id
    JOIN {topic_table} t ON t.id = ce.topic_id
    WHERE ce.id IN ({row_ids})
    ORDER BY ce.id
    RETURNING id, contact_id
)
INSERT INTO {delivery_table}
    (endpoint_id, event_id, contact_id, status, attempts, last_error, next_attempt_at, created_at)
SELECT endpoint.id, new_events.id, new_events.contact_id, %s, 0, '', now(), now()
FROM new_events CROSS JOIN unnest(%s::bigint[]) AS endpoint(id)
"""


def subscription_changes_emit(*, ledger_rows: QuerySet[ConsentEvent]) -> int:
    """Emit `subscription.changed` for every status change among `ledger_rows` (a ConsentEvent
    QuerySet, e.g. one import chunk's rows by id range) in one INSERT … SELECT on PostgreSQL:
    the events, in ledger order, and their deliveries. Call in the transaction that wrote the
    rows. Returns how many events were written (0 when no active endpoint wants them).
    """
    event_type = OutboundEventType.SUBSCRIPTION_CHANGED
    if event_type not in wanted_event_types():
        return 0
    endpoint_ids = _active_endpoints_wanting(event_type)
    if not endpoint_ids:
        return 0
    changes = (
        ledger_rows.filter(
            topic__isnull=False,
            new_status__in=SubscriptionStatus.values,
            old_status__in=_OLD_STATUSES,
        )
        .exclude(old_status=F("new_status"))
        .order_by("id")
    )
    if connection.vendor != "postgresql":
        # SQLite (`make run` only): a demo's few rows, one by one.
        written = 0
        for row in changes.select_related("contact", "topic"):
            if outbound_event_emit(
                event_type=event_type,
                data=_subscription_changed_data(row, row.contact, row.topic.slug),
                contact_id=row.contact_id,
            ):
                written += 1
        return written
    row_ids, params = changes.values("id").query.sql_with_params()
    statement = _SET_BASED_SQL.format(
        event_table=OutboundEvent._meta.db_table,
        ledger_table=ConsentEvent._meta.db_table,
        contact_table=Contact._meta.db_table,
        topic_table=ConsentEvent._meta.get_field("topic").related_model._meta.db_table,
        delivery_table=WebhookDelivery._meta.db_table,
        row_ids=row_ids,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            statement, [event_type, *params, WebhookDeliveryStatus.PENDING, endpoint_ids]
        )
        written = cursor.rowcount // len(endpoint_ids)
    if written:
        _kick_on_commit()
    return written
