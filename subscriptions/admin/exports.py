"""The console's "Export subscribers" button, on the topic list (each row) and a topic's page.

It streams the CSV of consent.exports to staff holding the `export_subscribers` permission (the
export hands over personal data in bulk: a role may view topics without it). Each export is
logged with the staff member's username.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action

from ..consent.exports import (
    EXPORT_STATUSES,
    export_filename,
    subscribers_export,
    topic_subscriptions,
)
from ..models import Topic
from ..models.choices import SubscriptionStatus

EXPORT_PERMISSION = "subscriptions.export_subscribers"


class SubscribersExportMixin:
    """For TopicAdmin: the export as a row action of the list and an action of the page."""

    actions_row = ["export_subscribers"]
    actions_detail = ["export_subscribers"]

    def has_export_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION)

    @action(
        description=_("Export subscribers"),
        url_path="export-subscribers",
        # Named by method (has_export_permission): a dotted permission makes unfold's system
        # check query the database, which breaks `migrate` on a fresh one.
        permissions=["export", "view"],
        icon="download",
    )
    def export_subscribers(self, request: HttpRequest, object_id: str):
        if not str(object_id).isdigit():
            raise Http404
        topic = get_object_or_404(Topic, pk=object_id)
        status = request.GET.get("status", SubscriptionStatus.SUBSCRIBED)
        if status not in EXPORT_STATUSES:
            raise Http404
        pieces = subscribers_export(
            subscriptions=topic_subscriptions(topic, status=status),
            exported_by=request.user.get_username(),
            what=f"topic {topic.slug}, {status}",
        )
        response = StreamingHttpResponse(pieces, content_type="text/csv; charset=utf-8")
        filename = export_filename(topic, status=status)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
