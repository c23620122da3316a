"""API v1 imports: upload a CSV file to import (queued), then follow its run."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from ...consent.importing import ImportAlreadyRunning, ImportFileError, import_start
from ...models import Import, Topic
from ...models.choices import ImportMode, ImportRowOutcome, LegalBasis
from ..auth import api_actor
from ..errors import ApiError
from .base import NOT_FOUND, ApiView, documented_error, responses

# The first rows of the report an answer carries; the console offers the whole report.
ERRORS_SHOWN = 100
# The counts every answer carries, 0 when none (others appear when they happened).
COUNTED = (
    "created",
    ImportRowOutcome.SUBSCRIBED,
    ImportRowOutcome.ALREADY_SUBSCRIBED,
    ImportRowOutcome.KEPT_UNSUBSCRIBED,
    ImportRowOutcome.KEPT_SUPPRESSED,
    ImportRowOutcome.INVALID,
)


class ImportInSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    topic = serializers.SlugField(required=False, max_length=64)
    source = serializers.CharField(max_length=140)
    legal_basis = serializers.ChoiceField(
        choices=LegalBasis.choices, required=False, default=LegalBasis.CONSENT
    )
    mode = serializers.ChoiceField(
        choices=ImportMode.choices, required=False, default=ImportMode.SUBSCRIBE
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=30)
    dry_run = serializers.BooleanField(required=False, default=False)


class ImportStartedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()


class ImportRowErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    detail = serializers.CharField()


class ImportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    mode = serializers.CharField()
    topic = serializers.SlugField(source="topic.slug", allow_null=True, default=None)
    rows = serializers.IntegerField()
    counts = serializers.SerializerMethodField()
    errors = serializers.SerializerMethodField()
    error = serializers.CharField()
    dry_run = serializers.BooleanField()
    size_bytes = serializers.IntegerField()
    bytes_done = serializers.IntegerField()
    committed_through_line = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_counts(self, run: Import) -> dict[str, int]:
        return {**dict.fromkeys(COUNTED, 0), **run.counts}

    def get_errors(self, run: Import) -> list[dict]:
        invalid = run.row_errors.filter(outcome=ImportRowOutcome.INVALID).order_by("line")
        return [
            {"line": line, "detail": detail}
            for line, detail in invalid.values_list("line", "detail")[:ERRORS_SHOWN]
        ]


class ImportsView(ApiView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Import a CSV file",
        request={"multipart/form-data": ImportInSerializer},
        responses=responses(
            {202: ImportStartedSerializer},
            {409: documented_error("`import_running`: an import into this topic is running.")},
        ),
    )
    def post(self, request):
        data = self.validated(ImportInSerializer)
        topic = None
        if data["mode"] == ImportMode.SUBSCRIBE:
            slug = data.get("topic")
            if not slug:
                raise ApiError(400, "invalid", "topic: name the topic to subscribe the list to.")
            topic = Topic.objects.filter(slug=slug).first()
            if topic is None:
                raise ApiError(400, "unknown_topic", f"There is no topic {slug!r}.")
        upload = data["file"]
        try:
            run = import_start(
                file=upload,
                filename=upload.name or "",
                mode=data["mode"],
                topic=topic,
                source=data["source"],
                legal_basis=data["legal_basis"],
                reason=data["reason"],
                actor=api_actor(request),
                dry_run=data["dry_run"],
            )
        except ImportAlreadyRunning as error:
            raise ApiError(409, "import_running", str(error)) from None
        except ImportFileError as error:
            raise ApiError(400, "invalid_file", str(error)) from None
        return Response({"id": run.pk, "status": run.status}, status=202)


class ImportView(ApiView):
    @extend_schema(
        summary="An import's progress and report",
        responses=responses({200: ImportSerializer}, NOT_FOUND),
    )
    def get(self, request, pk: int):
        run = Import.objects.select_related("topic").filter(pk=pk).first()
        if run is None:
            raise ApiError(404, "not_found", "No such import.")
        return Response(ImportSerializer(run).data)
