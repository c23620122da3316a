"""A campaign's live progress and its report: the page, the JSON it polls every 2 s, and the
CSV of who could not be reached and why. Figures from campaigns.report (one source with the API's
stats)."""

from __future__ import annotations

import datetime

from django.http import JsonResponse, StreamingHttpResponse
from django.urls import path
from django.utils.text import slugify
from django.utils.translation import gettext as _

from ..campaigns.report import FAILURE_COLUMNS, campaign_failures, campaign_progress
from ..csv_safety import csv_writer
from .campaign_workflow import CampaignWorkflow


class _Echo:
    """A file whose write returns the line, so csv writes can be streamed."""

    def write(self, value: str) -> str:
        return value


class CampaignReport(CampaignWorkflow):
    def urls(self) -> list:
        view = self.model_admin.admin_site.admin_view
        return [
            path("<int:pk>/progress/", view(self.page), name="subscriptions_campaign_progress"),
            path(
                "<int:pk>/progress.json",
                view(self.figures),
                name="subscriptions_campaign_progress_json",
            ),
            path(
                "<int:pk>/failures.csv",
                view(self.failures),
                name="subscriptions_campaign_failures",
            ),
        ]

    def page(self, request, pk: int):
        campaign = self.campaign(request, pk, act=False)
        progress = campaign_progress(campaign)
        finished = campaign.status in ("sent", "cancelled")
        return self.render(
            request,
            campaign,
            "progress",
            (_("Report: %(name)s") if finished else _("Progress: %(name)s")) % {"name": campaign},
            "report" if finished else "progress",
            progress=progress,
            stats=progress["stats"],
            finished=finished,
            time_left=_duration(progress["seconds_left"]),
        )

    def figures(self, request, pk: int):
        campaign = self.campaign(request, pk, act=False)
        progress = campaign_progress(campaign)
        progress["time_left"] = _duration(progress["seconds_left"])
        return JsonResponse(progress)

    def failures(self, request, pk: int):
        campaign = self.campaign(request, pk, act=False)
        # csv_safety's writer returns each line its file's write returned: streamed as written.
        writer = csv_writer(_Echo())

        def lines():
            yield writer.writerow(FAILURE_COLUMNS)
            for row in campaign_failures(campaign):
                yield writer.writerow(row)

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        name = slugify(campaign.name) or f"campaign-{campaign.pk}"
        response["Content-Disposition"] = f'attachment; filename="{name}-failed.csv"'
        return response


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    return str(datetime.timedelta(seconds=int(seconds)))
