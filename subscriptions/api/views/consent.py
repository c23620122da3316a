"""API v1 consent check: may this person be sent marketing on this topic now?"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from ...integrations.consent_check import consent_check
from ...models import Contact
from .. import serializers as s
from .base import NON_BLANK, ApiView, documented_error, responses
from .lookups import path_topic


class ConsentCheckView(ApiView):
    query_parameters = frozenset({"email", "external_id", "topic"})

    @extend_schema(
        summary="Check consent before contacting someone",
        description=(
            "`marketable` is what sending decides: the same blockers a campaign on `topic` "
            "applies now. `reason` names the first that applies (`erased`, `merged`, "
            "`suppressed`, `unsubscribed`, `paused`, `under_age`, `frequency`, "
            "`contact_cap`), `unknown_contact` for an address or external_id prefcenter does "
            "not know, or null when marketable. Give `email` or `external_id`."
        ),
        parameters=[
            OpenApiParameter("email", NON_BLANK, required=False),
            OpenApiParameter("external_id", NON_BLANK, required=False),
            OpenApiParameter("topic", NON_BLANK, required=True),
        ],
        responses=responses(
            {200: s.ConsentCheckSerializer},
            {404: documented_error("`unknown_topic`: there is no such topic.")},
        ),
    )
    def get(self, request):
        data = self.validated(s.ConsentCheckQuerySerializer, data=request.query_params.dict())
        topic = path_topic(data["topic"])
        if "email" in data:
            contacts = Contact.objects.by_email(data["email"])
        else:
            contacts = Contact.objects.active().filter(external_id=data["external_id"])
        answer = consent_check(contact=contacts.first(), topic=topic)
        return Response(s.ConsentCheckSerializer(answer).data)
