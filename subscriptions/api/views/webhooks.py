"""API v1 webhooks: create an endpoint (its secret shown once), list them with their delivery
log figures, read one with its recent deliveries, delete one."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from ...integrations.endpoints import (
    delivery_log_figures,
    webhook_endpoint_create,
    webhook_endpoint_delete,
)
from ...models import WebhookDelivery, WebhookEndpoint
from ...models.choices import OutboundEventType, WebhookDeliveryStatus
from ..fields import StrictSerializer
from .base import (
    MAX_ID,
    NOT_FOUND,
    PAGE_PARAMETERS,
    ApiView,
    documented_error,
    paginated,
    responses,
)

# Recent deliveries shown with one endpoint.
RECENT_DELIVERIES = 20


class WebhookInSerializer(StrictSerializer):
    url = serializers.CharField(max_length=2000)
    # Checked by the service (400 `unknown_event_type` naming the known ones).
    events = serializers.ListField(
        child=serializers.CharField(max_length=40),
        min_length=1,
        max_length=len(OutboundEventType.values),
        help_text="Any of: " + ", ".join(OutboundEventType.values),
    )


class WebhookCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    secret = serializers.CharField(help_text="Shown once: keep it to verify signatures.")


class DeliveryLogSerializer(serializers.Serializer):
    pending = serializers.IntegerField()
    failed = serializers.IntegerField(help_text="Failed so far, retrying.")
    delivered = serializers.IntegerField()
    gave_up = serializers.IntegerField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)


class WebhookSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.CharField())
    log = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "events",
            "is_active",
            "disabled_at",
            "disabled_reason",
            "failing_since",
            "created_at",
            "log",
        ]

    @extend_schema(responses=DeliveryLogSerializer)
    def get_log(self, endpoint) -> dict:
        return DeliveryLogSerializer(delivery_log_figures(endpoint)).data


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.UUIDField(source="event.uid")
    type = serializers.CharField(source="event.type")
    status = serializers.ChoiceField(choices=WebhookDeliveryStatus.choices)

    class Meta:
        model = WebhookDelivery
        fields = [
            "event_id",
            "type",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
        ]


class WebhookDetailSerializer(WebhookSerializer):
    deliveries = serializers.SerializerMethodField()

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "deliveries"]

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    def get_deliveries(self, endpoint) -> list:
        recent = endpoint.deliveries.select_related("event").order_by("-id")[:RECENT_DELIVERIES]
        return WebhookDeliverySerializer(recent, many=True).data


class WebhooksView(ApiView):
    query_parameters = frozenset({"cursor", "page_size"})

    @extend_schema(
        summary="Add a webhook endpoint",
        request=WebhookInSerializer,
        responses=responses(
            {201: WebhookCreatedSerializer},
            {
                400: documented_error(
                    "`url_not_allowed` (not http(s), does not resolve, or a loopback/private "
                    "address), `unknown_event_type`, or invalid input."
                )
            },
        ),
    )
    def post(self, request):
        data = self.validated(WebhookInSerializer)
        endpoint = webhook_endpoint_create(
            url=data["url"], events=data["events"], created_by=f"api:{request.auth.name}"
        )
        created = {
            "id": endpoint.pk,
            "url": endpoint.url,
            "events": endpoint.events,
            "secret": endpoint.secret,
        }
        return Response(WebhookCreatedSerializer(created).data, status=201)

    @extend_schema(
        summary="List webhook endpoints with their delivery log",
        operation_id="webhooks_list",
        parameters=PAGE_PARAMETERS,
        responses=responses(paginated(WebhookSerializer)),
    )
    def get(self, request):
        return self.paginate(WebhookEndpoint.objects.all(), WebhookSerializer)


class WebhookView(ApiView):
    def _endpoint(self, pk: int) -> WebhookEndpoint:
        return get_object_or_404(WebhookEndpoint, pk=pk if pk <= MAX_ID else 0)

    @extend_schema(
        summary="A webhook endpoint, its delivery log and recent deliveries",
        responses=responses({200: WebhookDetailSerializer}, NOT_FOUND),
    )
    def get(self, request, pk: int):
        return Response(WebhookDetailSerializer(self._endpoint(pk)).data)

    @extend_schema(
        summary="Delete a webhook endpoint (its undelivered events are dropped)",
        responses=responses({204: None}, NOT_FOUND),
    )
    def delete(self, request, pk: int):
        webhook_endpoint_delete(endpoint=self._endpoint(pk))
        return Response(status=204)
