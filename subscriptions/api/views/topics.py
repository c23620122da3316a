"""API v1 topics: list and create."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from ...consent.topics import topic_create
from ...models import Topic
from .. import serializers as s
from .base import PAGE_PARAMETERS, ApiView, documented_error, paginated, responses


class TopicsView(ApiView):
    query_parameters = frozenset({"page_size", "cursor"})

    @extend_schema(
        summary="List topics",
        operation_id="topics_list",
        parameters=PAGE_PARAMETERS,
        responses=responses(paginated(s.TopicSerializer)),
    )
    def get(self, request):
        return self.paginate(Topic.objects.all(), s.TopicSerializer)

    @extend_schema(
        summary="Create a topic",
        request=s.TopicSerializer,
        responses=responses(
            {201: s.TopicSerializer}, {409: documented_error("The slug is taken.")}
        ),
    )
    def post(self, request):
        data = self.validated(s.TopicSerializer)
        topic = topic_create(
            slug=data["slug"],
            name=data["name"],
            description=data["description"],
            channel=data["channel"],
            frequencies=data.get("frequencies", []),
            translations=s.TopicSerializer.translations(data),
        )
        return Response(s.TopicSerializer(topic).data, status=status.HTTP_201_CREATED)
