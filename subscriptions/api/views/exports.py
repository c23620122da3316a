"""API v1 exports: a topic's subscribers, or a segment's, as a streamed CSV."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError

from ...campaigns.segments import SegmentTopicMismatch, segment_check_fits, segment_contacts
from ...consent.exports import (
    EXPORT_COLUMNS,
    EXPORT_STATUSES,
    export_filename,
    segment_subscriptions,
    subscribers_export,
    topic_subscriptions,
)
from ...csv_safety import csv_download
from ...models.choices import SubscriptionStatus
from ..errors import ApiError
from .base import NOT_FOUND, ApiView, responses
from .lookups import path_topic
from .segments import path_segment, segment_error


class TopicSubscribersCsvView(ApiView):
    query_parameters = frozenset({"status"})

    @extend_schema(
        summary="Export a topic's subscribers as CSV",
        operation_id="topic_subscribers_csv",
        description=(
            "A CSV streamed row by row (a million rows is fine), columns "
            f"`{', '.join(EXPORT_COLUMNS)}`: `consented_at` is when they consented (ISO 8601, "
            "UTC), `source` the source of the ledger row that gave them their present standing. "
            "Erased contacts are never in it; a cell a spreadsheet would run as a formula "
            "(starting `= + - @`) is prefixed with `'`. Needs the `read` scope."
        ),
        parameters=[
            OpenApiParameter(
                "status",
                str,
                enum=list(EXPORT_STATUSES),
                required=False,
                description="Whose subscriptions: `subscribed` (default), another standing, "
                "or `all`.",
            )
        ],
        responses=responses(
            {
                (200, "text/csv"): OpenApiResponse(
                    OpenApiTypes.STR, description="The CSV, header first."
                )
            },
            NOT_FOUND,
        ),
    )
    def get(self, request, slug: str):
        topic = path_topic(slug)
        status = request.query_params.get("status", SubscriptionStatus.SUBSCRIBED)
        if status not in EXPORT_STATUSES:
            raise ValidationError({"status": [f"One of {', '.join(EXPORT_STATUSES)}."]})
        pieces = subscribers_export(
            subscriptions=topic_subscriptions(topic, status=status),
            exported_by=f"api:{request.auth.name}",
            what=f"topic {topic.slug}, {status}",
        )
        return csv_download(pieces, export_filename(topic, status=status))

    def perform_content_negotiation(self, request, force=False):
        # A client asking for text/csv gets it; errors still answer in JSON.
        return super().perform_content_negotiation(request, force=True)


class SegmentSubscribersCsvView(TopicSubscribersCsvView):
    query_parameters = frozenset({"topic"})

    @extend_schema(
        summary="Export a segment's subscribers as CSV",
        operation_id="segment_subscribers_csv",
        description=(
            "The subscribers a campaign on the segment's topic (or `?topic=<slug>` for a segment "
            "of no topic) would reach now, as the topic export's CSV. Needs the `read` scope."
        ),
        parameters=[OpenApiParameter("topic", str, required=False)],
        responses=responses(
            {
                (200, "text/csv"): OpenApiResponse(
                    OpenApiTypes.STR, description="The CSV, header first."
                )
            },
            NOT_FOUND,
        ),
    )
    def get(self, request, pk: int):
        segment = path_segment(pk)
        slug = request.query_params.get("topic")
        topic = path_topic(slug) if slug else segment.topic
        if topic is None:
            raise ApiError(400, "invalid", "topic: This segment has no topic: name one (?topic=).")
        try:
            segment_check_fits(segment=segment, topic=topic)
        except SegmentTopicMismatch as exc:
            raise segment_error(exc) from None
        pieces = subscribers_export(
            subscriptions=segment_subscriptions(
                segment_contacts(segment=segment, topic=topic), topic=topic
            ),
            exported_by=f"api:{request.auth.name}",
            what=f"segment {segment.pk} on topic {topic.slug}",
        )
        return csv_download(pieces, export_filename(topic, segment_name=segment.name))
