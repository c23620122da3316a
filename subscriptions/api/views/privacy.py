"""API v1 privacy: a contact's data export (erasure is `DELETE` on the contact)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from ...models.choices import ApiScope
from ...privacy.export import contact_export
from .base import NOT_FOUND, ApiView, responses
from .lookups import path_contact


class ContactExportView(ApiView):
    scope = ApiScope.PRIVACY

    @extend_schema(
        summary="Export a contact's data",
        request=None,
        responses=responses({200: dict}, NOT_FOUND),
    )
    def post(self, request, pk: int):
        return Response(contact_export(contact=path_contact(pk)))
