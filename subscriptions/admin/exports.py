"""The console's "Export subscribers" buttons: on the topic list (each row) and a topic's page,
and on a segment's page (the subscribers a campaign on its topic would reach now).

It streams the CSV of consent.exports to staff holding the `export_subscribers` permission (the
export hands over personal data in bulk: a role may view topics without it). Each export is
logged with the staff member's username.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action

from ..campaigns.segments import segment_contacts
from ..consent.exports import (
    EXPORT_STATUSES,
    export_filename,
    segment_subscriptions,
    subscribers_export,
    topic_subscriptions,
)
from ..csv_safety import csv_download
from ..models import Segment, Topic
from ..models.choices import SubscriptionStatus

EXPORT_PERMISSION = "subscriptions.export_subscribers"


class _ExportPermission:
    """unfold's `permissions=["export"]` asks this: the bulk export of personal data."""

    def has_export_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION)


class SubscribersExportMixin(_ExportPermission):
    """For TopicAdmin: the export as a row action of the list and an action of the page."""

    actions_row = ["export_subscribers"]
    actions_detail = ["export_subscribers"]

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
        return csv_download(pieces, export_filename(topic, status=status))


class SegmentSubscribersExportMixin(_ExportPermission):
    """For SegmentAdmin: the export of a segment of a topic, as an action of its page."""

    actions_detail = ["export_segment_subscribers"]

    @action(
        description=_("Export subscribers"),
        url_path="export-subscribers",
        permissions=["export", "view"],
        icon="download",
    )
    def export_segment_subscribers(self, request: HttpRequest, object_id: str):
        if not str(object_id).isdigit():
            raise Http404
        segment = get_object_or_404(Segment.objects.select_related("topic"), pk=object_id)
        if segment.topic is None:
            messages.error(
                request,
                _("This segment has no topic: give it one to export the subscribers it selects."),
            )
            return redirect(reverse("admin:subscriptions_segment_change", args=[segment.pk]))
        pieces = subscribers_export(
            subscriptions=segment_subscriptions(
                segment_contacts(segment=segment), topic=segment.topic
            ),
            exported_by=request.user.get_username(),
            what=f"segment {segment.pk} on topic {segment.topic.slug}",
        )
        return csv_download(pieces, export_filename(segment.topic, segment_name=segment.name))
