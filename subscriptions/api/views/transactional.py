"""API v1 transactional mail: one message, on its own road (DESIGN rule 6)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from ...mail.transactional import send_transactional
from ...models.choices import ApiScope
from .. import serializers as s
from .base import ApiView, documented_error, responses


class TransactionalView(ApiView):
    scope = ApiScope.SEND

    @extend_schema(
        summary="Send a transactional message",
        description="Refused only for an address suppressed with scope `all` (422 `suppressed`).",
        request=s.TransactionalInSerializer,
        responses=responses(
            {202: s.TransactionalOutSerializer},
            {422: documented_error("`suppressed`: the address cannot receive mail.")},
        ),
    )
    def post(self, request):
        data = self.validated(s.TransactionalInSerializer)
        message = send_transactional(
            to=data["to"],
            subject=data["subject"],
            text=data["text_body"],
            html=data.get("html_body") or None,
            kind="api",
        )
        return Response({"id": message.pk, "status": message.status}, status=202)
