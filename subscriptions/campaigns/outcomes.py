"""Recording what the transport answered: sent, failed, or outcome unknown.

Each outcome is written set-based, one statement per batch (an UPDATE joined on unnest() on
PostgreSQL), and only on rows this process still holds as claims (claims.mine), so an outcome is
never recorded twice, nor on a claim recovered meanwhile (rule 4).
bench/README.md has the figures that made these statements replace bulk_update.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Case, CharField, F, TextField, Value, When
from django.utils import timezone

from ..models import Delivery
from ..models.choices import DeliveryStatus, SkipReason
from .claims import mark_in_flight, mine, worker_id


def record_sent(sent: list[tuple[Delivery, str]]) -> None:
    """Mark accepted deliveries sent with their ESP ids: ONE statement per batch on PostgreSQL.

    Only rows still `claimed` are written, so an outcome is never recorded twice (rule 4).
    """
    if not sent:
        return
    now = timezone.now()
    for delivery, esp_id in sent:
        delivery.status = DeliveryStatus.SENT
        delivery.esp_message_id = esp_id
        delivery.sent_at = now
    if connection.vendor == "postgresql":
        # bulk_update's CASE over three columns cost ~40% of a batch; a join on unnest is one
        # index-driven UPDATE whatever the batch size.
        q = connection.ops.quote_name
        statement = (
            f"UPDATE {q(Delivery._meta.db_table)} d"  # noqa: S608
            f" SET {q('status')} = %s, {q('esp_message_id')} = v.mid, {q('sent_at')} = %s"
            " FROM unnest(%s::bigint[], %s::text[]) AS v(id, mid)"
            f" WHERE d.{q('id')} = v.id AND d.{q('status')} = %s AND d.{q('claimed_by')} = %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                statement,
                [
                    DeliveryStatus.SENT,
                    now,
                    [d.pk for d, _ in sent],
                    [esp_id for _, esp_id in sent],
                    DeliveryStatus.CLAIMED,
                    worker_id(),
                ],
            )
        return
    # Portable fallback (SQLite in `make run`): one CASE update per chunk of 400 rows, which
    # stays below SQLite's bound-parameter limit.
    for start in range(0, len(sent), 400):
        chunk = sent[start : start + 400]
        mine(Delivery.objects.filter(pk__in=[d.pk for d, _ in chunk])).update(
            status=DeliveryStatus.SENT,
            sent_at=now,
            esp_message_id=Case(
                *(When(pk=d.pk, then=Value(esp_id)) for d, esp_id in chunk),
                default=F("esp_message_id"),
                output_field=CharField(),
            ),
        )


def record_sent_and_mark(
    sent: list[tuple[Delivery, str]], next_call: list[Delivery]
) -> list[Delivery]:
    """record_sent for the answers so far, then mark_in_flight for the next send call, in ONE
    statement on PostgreSQL: the one statement per send call that rule 4 costs, which also
    leaves nothing answered looking in flight. Returns the next call's deliveries still held.
    """
    if connection.vendor != "postgresql" or not sent or not next_call:
        record_sent(sent)
        return mark_in_flight(next_call)
    now = timezone.now()
    for delivery, esp_id in sent:
        delivery.status = DeliveryStatus.SENT
        delivery.esp_message_id = esp_id
        delivery.sent_at = now
    q = connection.ops.quote_name
    table = q(Delivery._meta.db_table)
    statement = (
        f"WITH sent AS (UPDATE {table} d"  # noqa: S608
        f" SET {q('status')} = %s, {q('esp_message_id')} = v.mid, {q('sent_at')} = %s"
        " FROM unnest(%s::bigint[], %s::text[]) AS v(id, mid)"
        f" WHERE d.{q('id')} = v.id AND d.{q('status')} = %s AND d.{q('claimed_by')} = %s"
        f" RETURNING d.{q('id')})"
        f" UPDATE {table} SET {q('in_flight_at')} = %s"
        f" WHERE {q('id')} = ANY(%s::bigint[]) AND {q('status')} = %s AND {q('claimed_by')} = %s"
        f" RETURNING {q('id')}"
    )
    holder = worker_id()
    with connection.cursor() as cursor:
        cursor.execute(
            statement,
            [
                DeliveryStatus.SENT,
                now,
                [d.pk for d, _ in sent],
                [esp_id for _, esp_id in sent],
                DeliveryStatus.CLAIMED,
                holder,
                now,
                [d.pk for d in next_call],
                DeliveryStatus.CLAIMED,
                holder,
            ],
        )
        held = {row[0] for row in cursor.fetchall()}
    return [d for d in next_call if d.pk in held]


def record_failed(failed: list[tuple[Delivery, str]]) -> None:
    """Mark refused deliveries failed with their error; only rows still `claimed` (rule 4)."""
    for delivery, error in failed:
        delivery.status = DeliveryStatus.FAILED
        delivery.reason = SkipReason.ERROR
        delivery.error = error[:2000]
    # Refusals are rare, so one portable CASE update per chunk is plenty.
    for start in range(0, len(failed), 400):
        chunk = failed[start : start + 400]
        mine(Delivery.objects.filter(pk__in=[d.pk for d, _ in chunk])).update(
            status=DeliveryStatus.FAILED,
            reason=SkipReason.ERROR,
            error=Case(
                *(When(pk=d.pk, then=Value(d.error)) for d, _ in chunk),
                default=F("error"),
                output_field=TextField(),
            ),
        )


def record_unknown(deliveries: list[Delivery]) -> None:
    """The send call went out but its answer was lost: failed, outcome_unknown, never resent."""
    mine(Delivery.objects.filter(pk__in=[d.pk for d in deliveries])).update(
        status=DeliveryStatus.FAILED,
        reason=SkipReason.OUTCOME_UNKNOWN,
        error="The ESP's answer was lost; the message may or may not have been sent.",
    )
