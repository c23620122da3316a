"""What every API v1 view shares: the base view (auth, scopes, strict query parameters), the
cursor pagination, and the OpenAPI pieces (common errors, page parameters) its schema repeats.

Views parse and validate, call one service, answer. Errors are raised, never built in a view
(api.errors shapes them).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from ...models.choices import ApiScope
from .. import serializers as s
from ..auth import ApiKeyRateThrottle, BearerKeyAuthentication, HasApiKey, HasScope
from ..errors import ApiError, exception_handler
from ..parsers import DepthCappedJSONParser

MAX_ID = 2**63 - 1  # beyond a bigint no row can match; don't let the database choke on it


def documented_error(description: str) -> OpenApiResponse:
    """An error answer as the schema documents it: `{"error", "detail"}` and what it means."""
    return OpenApiResponse(s.ErrorSerializer, description=description)


COMMON_ERRORS = {
    400: documented_error("Invalid input or malformed JSON."),
    401: documented_error("Missing, invalid or revoked API key."),
    403: documented_error("`forbidden_scope`: the key lacks the scope this call needs."),
    429: documented_error("Rate limit of the API key exceeded."),
    503: documented_error("`database_unavailable`: try again after `Retry-After` seconds."),
}
NOT_FOUND = {404: documented_error("No such object.")}
NON_BLANK = {"type": "string", "minLength": 1}
PAGE_PARAMETERS = [
    OpenApiParameter("page_size", int, required=False, description="1 to 500, default 50."),
    OpenApiParameter("cursor", NON_BLANK, required=False, description="From a `next` link."),
]


def paginated(serializer_class) -> dict:
    """The schema of `{"results": [...], "next": url|null}` of `serializer_class` items."""
    name = serializer_class.__name__.removesuffix("Serializer")
    return {
        200: inline_serializer(
            f"Paginated{name}List",
            fields={
                "results": serializer_class(many=True),
                "next": serializers.URLField(allow_null=True),
            },
        )
    }


def responses(ok: dict, *extra: dict) -> dict:
    merged = {**ok, **COMMON_ERRORS}
    for more in extra:
        merged.update(more)
    return merged


class Pagination(CursorPagination):
    """`{"results": [...], "next": url|null}`, stable under inserts."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "pk"

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {"page_size": [f"Must be a whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def decode_cursor(self, request):
        if request.query_params.get(self.cursor_query_param) == "":
            raise ValidationError({"cursor": ["May not be blank."]})
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": ["Invalid cursor."]}) from None
        # DRF checks the cursor's form, not its position, which goes into the query as is: a
        # crafted one ("p=abc", a NUL, 5,000 digits) made the database or int() fail (a 500).
        position = cursor.position if cursor is not None else None
        if position is not None and not _is_id(position):
            raise ValidationError({"cursor": ["Invalid cursor."]})
        return cursor

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "format": "uri", "nullable": True},
            },
        }


def _is_id(value: str) -> bool:
    """Whether `value` is a row id: digits only, within a bigint (every list is in pk order)."""
    return value.isascii() and value.isdigit() and len(value) <= 19 and int(value) <= MAX_ID


class ApiView(APIView):
    authentication_classes = [BearerKeyAuthentication]
    permission_classes = [HasApiKey, HasScope]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [DepthCappedJSONParser]
    renderer_classes = [JSONRenderer]

    # The scope a call other than GET needs (GET needs `read`), and per-method exceptions.
    scope: str = ApiScope.WRITE
    scopes: dict[str, str] = {}
    # Query parameters the view understands; any other is refused like an unknown body field.
    query_parameters: frozenset[str] = frozenset()

    def get_exception_handler(self):
        return exception_handler

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # PostgreSQL text cannot hold NUL: a query with one fails in the database (a 500).
        if any("\x00" in value for value in kwargs.values() if isinstance(value, str)):
            raise ApiError(404, "not_found", "Not found.")
        for name, values in request.query_params.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                raise ValidationError({name.replace("\x00", "") or "(empty)": ["NUL character."]})
        unknown = sorted(set(request.query_params) - self.query_parameters)
        if unknown:
            raise ValidationError(
                {name or "(empty)": ["Unknown query parameter."] for name in unknown}
            )

    def validated(self, serializer_class, data=None) -> dict:
        serializer = serializer_class(data=self.request.data if data is None else data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def paginate(self, queryset, serializer_class, ordering: str = "pk") -> Response:
        paginator = Pagination()
        paginator.ordering = ordering
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)
