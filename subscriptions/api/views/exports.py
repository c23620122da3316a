"""API v1 exports: a topic's subscribers as a streamed CSV."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError

from ...consent.exports import (
    EXPORT_COLUMNS,
    EXPORT_STATUSES,
    export_filename,
    subscribers_export,
    topic_subscriptions,
)
from ...models.choices import SubscriptionStatus
from .base import NOT_FOUND, ApiView, responses
from .lookups import path_topic


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
        response = StreamingHttpResponse(pieces, content_type="text/csv; charset=utf-8")
        filename = export_filename(topic, status=status)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def perform_content_negotiation(self, request, force=False):
        # A client asking for text/csv gets it; errors still answer in JSON.
        return super().perform_content_negotiation(request, force=True)
