"""API v1 segments: saved rules narrowing a topic's audience (campaigns.segments), their CRUD and
their live count. A campaign names one by id in its `segment` field."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from ...campaigns.segments import (
    InvalidSegmentRules,
    SegmentError,
    segment_count,
    segment_delete,
    segment_save,
)
from ...models import Segment
from ...models.choices import ApiScope
from ..errors import ApiError
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
from .lookups import body_topic, path_topic

RULES_HELP = (
    '`{"match": "all"|"any", "groups": [{"match": "all"|"any", "conditions": '
    '[{"field", "op", "value"}]}]}`. Fields and operators: `locale`, `country`, `time_zone` '
    "(`equals`, `in`); `attributes.<name>` (`equals`, `contains`, `is_set`, `is_not_set`); "
    "`subscribed` (the consent date on the topic) and `created` (`since`, `before`: a date "
    "`YYYY-MM-DD` or a date-time with a zone). `{}`: the whole topic."
)


class SegmentSerializer(serializers.ModelSerializer):
    topic = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    rules = serializers.JSONField(read_only=True, help_text=RULES_HELP)

    class Meta:
        model = Segment
        fields = ["id", "name", "topic", "rules", "created_at", "updated_at"]
        read_only_fields = fields


class SegmentInSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    topic = serializers.SlugField(
        max_length=64, required=False, allow_null=True, default=None, help_text="A topic slug."
    )
    rules = serializers.JSONField(help_text=RULES_HELP)


class SegmentPatchSerializer(SegmentInSerializer):
    name = serializers.CharField(max_length=200, required=False)
    topic = serializers.SlugField(max_length=64, required=False, allow_null=True)
    rules = serializers.JSONField(required=False, help_text=RULES_HELP)


class SegmentCountSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Contacts marketable on the topic it matches now.")
    topic = serializers.CharField(allow_null=True)


def segment_error(exc: SegmentError) -> ApiError:
    """A refused segment change in the API's error shape: bad rules are bad input (400, the
    detail naming the rule), a segment in use a conflict (409)."""
    if isinstance(exc, InvalidSegmentRules):
        return ApiError(400, exc.code, f"rules.{exc}")
    status = 409 if exc.code in ("segment_in_use", "invalid_state") else 400
    return ApiError(status, exc.code, str(exc))


def path_segment(pk: int) -> Segment:
    segment = (
        Segment.objects.select_related("topic").filter(pk=pk).first() if pk <= MAX_ID else None
    )
    if segment is None:
        raise ApiError(404, "not_found", "No such segment.")
    return segment


def body_segment(pk: int | None, field: str = "segment") -> Segment | None:
    """A segment named in a request body: an unknown id is bad input (400 `unknown_segment`)."""
    if pk is None:
        return None
    segment = (
        Segment.objects.select_related("topic").filter(pk=pk).first() if pk <= MAX_ID else None
    )
    if segment is None:
        raise ApiError(400, "unknown_segment", f"{field}: There is no segment {pk}.")
    return segment


INVALID = {400: documented_error("`invalid_segment`: the detail names the rule at fault.")}


class SegmentsView(ApiView):
    scope = ApiScope.WRITE
    query_parameters = frozenset({"page_size", "cursor"})

    @extend_schema(
        summary="List segments",
        operation_id="segments_list",
        parameters=PAGE_PARAMETERS,
        responses=responses(paginated(SegmentSerializer)),
    )
    def get(self, request):
        return self.paginate(Segment.objects.select_related("topic"), SegmentSerializer)

    @extend_schema(
        summary="Create a segment",
        request=SegmentInSerializer,
        responses=responses({201: SegmentSerializer}, INVALID),
    )
    def post(self, request):
        data = self.validated(SegmentInSerializer)
        topic = body_topic(data["topic"], "topic") if data["topic"] else None
        try:
            segment = segment_save(name=data["name"], topic=topic, rules=data["rules"])
        except SegmentError as exc:
            raise segment_error(exc) from None
        return Response(SegmentSerializer(segment).data, status=201)


class SegmentView(ApiView):
    scope = ApiScope.WRITE

    @extend_schema(
        summary="Get a segment", responses=responses({200: SegmentSerializer}, NOT_FOUND)
    )
    def get(self, request, pk: int):
        return Response(SegmentSerializer(path_segment(pk)).data)

    @extend_schema(
        summary="Change a segment",
        description="Only the fields given change. Campaigns already sending keep their audience.",
        request=SegmentPatchSerializer,
        responses=responses({200: SegmentSerializer}, NOT_FOUND, INVALID),
    )
    def patch(self, request, pk: int):
        segment = path_segment(pk)
        data = self.validated(SegmentPatchSerializer)
        topic = segment.topic
        if "topic" in data:
            topic = body_topic(data["topic"], "topic") if data["topic"] else None
        try:
            segment = segment_save(
                segment=segment,
                name=data.get("name", segment.name),
                topic=topic,
                rules=data.get("rules", segment.rules),
            )
        except SegmentError as exc:
            raise segment_error(exc) from None
        return Response(SegmentSerializer(segment).data)

    @extend_schema(
        summary="Delete a segment",
        request=None,
        responses=responses(
            {204: None},
            NOT_FOUND,
            {409: documented_error("`segment_in_use`: a campaign uses it.")},
        ),
    )
    def delete(self, request, pk: int):
        try:
            segment_delete(segment=path_segment(pk))
        except SegmentError as exc:
            raise segment_error(exc) from None
        return Response(status=204)


class SegmentCountView(ApiView):
    query_parameters = frozenset({"topic"})

    @extend_schema(
        summary="Count a segment's contacts now",
        description=(
            "Contacts marketable on the segment's topic (or `?topic=<slug>`) that it matches: "
            "the number a campaign's audience would have if built now. A segment of no topic, "
            "without `?topic`, counts contacts subscribed to any topic and not suppressed."
        ),
        parameters=[OpenApiParameter("topic", str, required=False)],
        responses=responses({200: SegmentCountSerializer}, NOT_FOUND),
    )
    def get(self, request, pk: int):
        segment = path_segment(pk)
        slug = request.query_params.get("topic")
        topic = path_topic(slug) if slug else segment.topic
        if segment.topic_id is not None and topic.pk != segment.topic_id:
            raise ApiError(
                400,
                "segment_topic_mismatch",
                f"topic: This segment is for topic {segment.topic.slug!r}, not {slug!r}.",
            )
        count = segment_count(rules=segment.rules, topic=topic)
        return Response({"count": count, "topic": topic.slug if topic else None})
