"""API v1 campaigns: list, create, read with progress, the lifecycle actions, test sends."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from ...campaigns.authoring import campaign_change, campaign_create
from ...campaigns.lifecycle import campaign_schedule
from ...campaigns.segments import SegmentError, campaign_set_segment
from ...campaigns.test_sends import campaign_test_send
from ...models import Campaign
from ...models.choices import ApiScope
from .. import serializers as s
from .base import NOT_FOUND, PAGE_PARAMETERS, ApiView, documented_error, paginated, responses
from .lookups import body_topic, path_campaign
from .segments import body_segment, segment_error


class CampaignsView(ApiView):
    scope = ApiScope.SEND
    query_parameters = frozenset({"page_size", "cursor"})

    @extend_schema(
        summary="List campaigns",
        operation_id="campaigns_list",
        parameters=PAGE_PARAMETERS,
        responses=responses(paginated(s.CampaignSerializer)),
    )
    def get(self, request):
        return self.paginate(Campaign.objects.select_related("topic"), s.CampaignSerializer)

    @extend_schema(
        summary="Create a campaign",
        description="A draft, or scheduled when `scheduled_at` is given.",
        request=s.CampaignInSerializer,
        responses=responses({201: s.CampaignSerializer}),
    )
    def post(self, request):
        data = self.validated(s.CampaignInSerializer)
        topic = body_topic(data.pop("topic"), "topic")
        segment = body_segment(data.pop("segment"))
        with transaction.atomic():
            campaign = campaign_create(topic=topic, **data)
            if segment is not None:
                try:
                    campaign_set_segment(campaign=campaign, segment=segment)
                except SegmentError as exc:
                    raise segment_error(exc) from None
        return Response(s.CampaignSerializer(campaign).data, status=201)


class CampaignView(ApiView):
    scope = ApiScope.SEND

    @extend_schema(
        summary="Get a campaign with its progress",
        responses=responses({200: s.CampaignSerializer}, NOT_FOUND),
    )
    def get(self, request, pk: int):
        return Response(s.CampaignSerializer(path_campaign(pk)).data)


class CampaignActionView(ApiView):
    scope = ApiScope.SEND
    action: str = ""

    @extend_schema(
        request=None,
        responses=responses(
            {202: s.CampaignSerializer},
            NOT_FOUND,
            {409: documented_error("`invalid_state`: not possible in the campaign's status.")},
        ),
    )
    def post(self, request, pk: int):
        campaign = path_campaign(pk)
        campaign = campaign_change(campaign=campaign, action=self.action)
        return Response(s.CampaignSerializer(campaign).data, status=202)


class CampaignScheduleInSerializer(s.StrictSerializer):
    scheduled_at = serializers.DateTimeField(
        help_text="When to start (ISO 8601 with a time zone, in the future)."
    )


class CampaignScheduleView(ApiView):
    """An extension of DESIGN's API: schedule (or move) a draft or scheduled campaign, through
    the same service as the admin form; `unschedule/` takes it back to draft."""

    scope = ApiScope.SEND

    @extend_schema(
        summary="Schedule a campaign",
        description="Beat starts it within a minute of `scheduled_at`.",
        request=CampaignScheduleInSerializer,
        responses=responses(
            {202: s.CampaignSerializer},
            NOT_FOUND,
            {400: documented_error("`invalid_schedule`: the time has passed.")},
            {409: documented_error("`invalid_state`: not a draft or scheduled campaign.")},
        ),
    )
    def post(self, request, pk: int):
        campaign = path_campaign(pk)
        data = self.validated(CampaignScheduleInSerializer)
        campaign = campaign_schedule(campaign=campaign, at=data["scheduled_at"])
        return Response(s.CampaignSerializer(campaign).data, status=202)


class CampaignTestView(ApiView):
    scope = ApiScope.SEND

    @extend_schema(
        summary="Send a test of a campaign",
        description=(
            "At most 20 addresses. Each gets the campaign's content with a subject starting "
            "`[Test] ` and inert unsubscribe/preference links and headers (their pages say it "
            "was a test; their POSTs change nothing). Suppressed addresses are refused, not "
            "mailed. Every test send is logged."
        ),
        request=s.CampaignTestInSerializer,
        responses=responses(
            {202: s.CampaignTestOutSerializer},
            NOT_FOUND,
            {
                503: documented_error(
                    "`mail_unavailable`: the mail server did not take the test; "
                    "`database_unavailable`. Try again after `Retry-After` seconds."
                )
            },
        ),
    )
    def post(self, request, pk: int):
        campaign = path_campaign(pk)
        data = self.validated(s.CampaignTestInSerializer)
        result = campaign_test_send(
            campaign=campaign, recipients=data["to"], by=f"api:{request.auth.name}"
        )
        return Response({"sent": len(result.sent), "refused": result.refused}, status=202)
