"""API v1 preference links: the host product's "email preferences" button."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from ...integrations.links import ReturnUrlNotAllowed, preference_link_create
from .. import serializers as s
from ..errors import ApiError
from .base import ApiView, documented_error, responses
from .lookups import path_contact


class PreferenceLinkView(ApiView):
    @extend_schema(
        summary="Make a preference link for a contact",
        description=(
            "A link to this contact's preference page, for the host product's \"email "
            'preferences" button, valid for PREFERENCE_LINK_MAX_AGE_HOURS. Add `?embed=1` to '
            "frame it in a page of PREFERENCE_LINK_ORIGINS. `return_url` (on one of "
            'PREFERENCE_LINK_ORIGINS) is shown on the page as "Back to <host>". The person '
            "acts from it themselves (ledger source `host_link`); re-joining a topic they left, "
            "or lifting an unsubscribe-all, is still confirmed by email."
        ),
        request=s.PreferenceLinkInSerializer,
        responses=responses(
            {201: s.PreferenceLinkOutSerializer},
            {
                400: documented_error(
                    "Invalid input; `return_url_not_allowed`: return_url is not on one of "
                    "PREFERENCE_LINK_ORIGINS."
                ),
                404: documented_error("No such contact (or it was erased)."),
            },
        ),
    )
    def post(self, request, pk: int):
        contact = path_contact(pk)
        data = self.validated(s.PreferenceLinkInSerializer)
        try:
            link = preference_link_create(contact=contact, return_url=data["return_url"])
        except ReturnUrlNotAllowed:
            raise ApiError(
                400,
                "return_url_not_allowed",
                "return_url must be an http(s) URL on one of PREFERENCE_LINK_ORIGINS.",
            ) from None
        return Response(s.PreferenceLinkOutSerializer(link).data, status=201)
