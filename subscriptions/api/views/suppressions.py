"""API v1 suppressions: add one, check an address."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from ...consent.suppression import suppression_add, suppression_check
from .. import serializers as s
from ..auth import api_actor
from .base import NON_BLANK, ApiView, responses


class SuppressionsView(ApiView):
    @extend_schema(
        summary="Suppress an address",
        request=s.SuppressionInSerializer,
        responses=responses({201: s.SuppressionOutSerializer}),
    )
    def post(self, request):
        data = self.validated(s.SuppressionInSerializer)
        suppression, _created = suppression_add(
            email=data["email"],
            reason=data["reason"],
            scope=data.get("scope"),
            note=data["note"],
            by=api_actor(request),
        )
        return Response(s.SuppressionOutSerializer(suppression).data, status=201)


class SuppressionCheckView(ApiView):
    query_parameters = frozenset({"email"})

    @extend_schema(
        summary="Is an address suppressed?",
        parameters=[OpenApiParameter("email", NON_BLANK, required=True)],
        responses=responses({200: s.SuppressionCheckSerializer}),
    )
    def get(self, request):
        data = self.validated(s.EmailQuerySerializer, data=request.query_params.dict())
        result = suppression_check(email=data["email"])
        return Response(s.SuppressionCheckSerializer(result).data)
