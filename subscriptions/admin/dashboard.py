"""The console's home page (unfold's DASHBOARD_CALLBACK): the dashboard service's figures as
cards, tables and Chart.js data for templates/admin/index.html."""

from __future__ import annotations

import json

from django.http import HttpRequest
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from ..dashboard import (
    GMAIL_COMPLAINT_LIMIT,
    GMAIL_COMPLAINT_TARGET,
    Dashboard,
    dashboard_build,
)

GAINED_COLOR = "var(--color-primary-600)"
LOST_COLOR = "#b91c1c"
TARGET_COLOR = "#b45309"
LIMIT_COLOR = "#b91c1c"


# Chart.js options for both charts: a legend (colour alone must not carry the meaning), whole
# numbers on the count axis, bars wide enough to see.
CHART_OPTIONS = {
    "aspectRatio": 1.8,
    # Drawn at once: no motion for those who asked for less, and screenshots show the figures.
    "animation": False,
    "plugins": {"legend": {"display": True, "position": "bottom"}},
    "scales": {
        "x": {"grid": {"display": False}},
        "y": {"beginAtZero": True, "ticks": {"precision": 0}},
    },
    "datasets": {"bar": {"maxBarThickness": 36, "borderRadius": 4}},
}
COMPLAINT_OPTIONS = {
    **CHART_OPTIONS,
    "scales": {"x": {"grid": {"display": False}}, "y": {"beginAtZero": True, "suggestedMax": 0.4}},
}


def audience_chart(board: Dashboard) -> str:
    return json.dumps(
        {
            "labels": [change.topic for change in board.audience],
            "datasets": [
                {
                    "label": _("Gained"),
                    "data": [change.gained for change in board.audience],
                    "backgroundColor": GAINED_COLOR,
                },
                {
                    "label": _("Lost"),
                    "data": [change.lost for change in board.audience],
                    "backgroundColor": LOST_COLOR,
                },
            ],
        }
    )


def complaint_chart(board: Dashboard) -> str:
    """Daily complaint rate in percent, with Gmail's 0.1 % and 0.3 % lines across it."""
    days = board.complaint_history
    labels = [date_format(day, "M j") for day, _rate in days]
    line = {"type": "line", "pointRadius": 0, "borderWidth": 2, "fill": False}
    return json.dumps(
        {
            "labels": labels,
            "datasets": [
                {
                    "type": "bar",
                    "label": _("Complaint rate %"),
                    "data": [round(rate.rate * 100, 3) for _day, rate in days],
                    "backgroundColor": GAINED_COLOR,
                },
                {
                    **line,
                    "label": _("Gmail target 0.1 %"),
                    "data": [GMAIL_COMPLAINT_TARGET * 100] * len(days),
                    "borderColor": TARGET_COLOR,
                    "borderDash": [6, 4],
                },
                {
                    **line,
                    "label": _("Gmail limit 0.3 %"),
                    "data": [GMAIL_COMPLAINT_LIMIT * 100] * len(days),
                    "borderColor": LIMIT_COLOR,
                },
            ],
        }
    )


def complaint_level(board: Dashboard) -> tuple[float | None, str]:
    """The complaint rate over the whole window and how it stands against Gmail's lines."""
    sent = sum(rate.sent for _day, rate in board.complaint_history)
    complained = sum(rate.complained for _day, rate in board.complaint_history)
    if not sent:
        return None, "none"
    rate = complained / sent
    if rate >= GMAIL_COMPLAINT_LIMIT:
        return rate * 100, "limit"
    if rate >= GMAIL_COMPLAINT_TARGET:
        return rate * 100, "target"
    return rate * 100, "ok"


def dashboard_callback(request: HttpRequest, context: dict) -> dict:
    board = dashboard_build()
    overall, level = complaint_level(board)
    attention = len(board.stuck) + len(board.stalled) + (board.failed_webhooks or 0)
    context.update(
        {
            "title": _("Dashboard"),
            "board": board,
            "audience_chart": audience_chart(board),
            "complaint_chart": complaint_chart(board),
            "audience_options": json.dumps(CHART_OPTIONS),
            "complaint_options": json.dumps(COMPLAINT_OPTIONS),
            "complaint_overall": overall,
            "complaint_level": level,
            "attention_count": attention,
            "campaign_list_url": reverse("admin:subscriptions_campaign_changelist"),
        }
    )
    return context
