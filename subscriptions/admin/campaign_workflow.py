"""The campaign page's workflow: Edit → Preview → Send test → Review → Send now / Schedule →
progress → report. Each step is a thin view over the campaign services (lifecycle, test_sends,
report, copies); the CampaignAdmin mounts them (workflow_urls) and its change page shows the
step bar and the buttons (workflow_context)."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

from csp.decorators import csp_replace
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ..campaigns.copies import campaign_duplicate
from ..campaigns.lifecycle import (
    STARTABLE,
    CampaignStateError,
    InvalidSchedule,
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_schedule,
    campaign_start,
    campaign_unschedule,
)
from ..campaigns.messages import CampaignRenderError, FromNotAllowed, InvalidCampaignTemplate
from ..campaigns.report import campaign_review
from ..campaigns.test_sends import (
    MAX_TEST_RECIPIENTS,
    InvalidTestSend,
    MailUnavailable,
    campaign_preview,
    campaign_test_send,
)
from ..forms.campaign_workflow import PreviewAsForm, ScheduleForm, TestSendForm
from ..models import Campaign, TestList
from ..models.choices import CampaignStatus

# What a life-cycle service may refuse with; each is shown to the marketer as it is worded.
REFUSALS = (
    CampaignStateError,
    InvalidSchedule,
    InvalidCampaignTemplate,
    FromNotAllowed,
    CampaignRenderError,
    InvalidTestSend,
    MailUnavailable,
)
STARTED = (
    CampaignStatus.SENDING,
    CampaignStatus.PAUSED,
    CampaignStatus.SENT,
    CampaignStatus.CANCELLED,
)


def schedule_text(campaign: Campaign) -> str:
    """The schedule as staff read it: in the zone it was chosen in (else the console's), and
    that zone's name."""
    if campaign.scheduled_at is None:
        return "—"
    zone_name = campaign.schedule_time_zone or timezone.get_current_timezone_name()
    try:
        zone = zoneinfo.ZoneInfo(zone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone, zone_name = timezone.get_current_timezone(), timezone.get_current_timezone_name()
    local = timezone.localtime(campaign.scheduled_at, zone)
    return f"{local:%Y-%m-%d %H:%M} {zone_name}"


# --- the step bar and the buttons -----------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    label: str
    url: str
    state: str  # "done", "current", "todo" or "closed" (no longer reachable)


def workflow_steps(campaign: Campaign, current: str) -> list[Step]:
    """The seven steps, each done, current, still to do, or closed once the campaign started."""

    def url(name: str) -> str:
        return reverse(f"admin:subscriptions_campaign_{name}", args=[campaign.pk])

    started = campaign.status in STARTED
    tested = campaign.test_sends.exists()
    finished = campaign.status in (CampaignStatus.SENT, CampaignStatus.CANCELLED)
    steps = [
        ("edit", _("Edit"), url("change"), True),
        ("preview", _("Preview"), url("preview"), True),
        ("test", _("Send test"), url("preview") + "#send-test", tested),
        ("review", _("Review"), url("review"), started or campaign.status == "scheduled"),
        ("send", _("Send / schedule"), url("review") + "#send", started),
        ("progress", _("Progress"), url("progress"), finished),
        ("report", _("Report"), url("progress"), finished),
    ]
    result = []
    for key, label, link, done in steps:
        if key == current:
            state = "current"
        elif started and key in ("edit", "test", "review", "send"):
            state = "closed" if key != "send" else "done"
        else:
            state = "done" if done else "todo"
        result.append(Step(str(label), link, state))
    return result


def workflow_buttons(campaign: Campaign) -> list[dict]:
    """The buttons the campaign's status allows: a GET link or a POST form, each named."""

    def button(label, name, *, method="get", style="", confirm=""):
        return {
            "label": label,
            "url": reverse(f"admin:subscriptions_campaign_{name}", args=[campaign.pk]),
            "method": method,
            "style": style,
            "confirm": confirm,
        }

    status = campaign.status
    buttons = []
    if status in STARTABLE:
        buttons += [
            button(_("Preview"), "preview"),
            button(_("Send test"), "preview"),
            button(_("Review & send"), "review", style="primary"),
        ]
        if status == CampaignStatus.SCHEDULED:
            buttons.append(button(_("Unschedule"), "unschedule", method="post"))
    else:
        label = _("Report") if status in (CampaignStatus.SENT, "cancelled") else _("Progress")
        buttons.append(button(label, "progress", style="primary"))
    if status == CampaignStatus.SENDING:
        buttons.append(button(_("Pause"), "pause", method="post"))
    if status == CampaignStatus.PAUSED:
        buttons.append(button(_("Resume"), "resume", method="post", style="primary"))
    if status not in (CampaignStatus.SENT, CampaignStatus.CANCELLED):
        buttons.append(
            button(_("Cancel campaign"), "cancel", method="post", style="danger", confirm="1")
        )
    buttons.append(button(_("Duplicate"), "duplicate", method="post"))
    return buttons


def workflow_context(campaign: Campaign, current: str) -> dict:
    return {
        "workflow_steps": workflow_steps(campaign, current),
        "workflow_buttons": workflow_buttons(campaign),
        "schedule": schedule_text(campaign) if campaign.status == "scheduled" else "",
        "read_only": campaign.status in STARTED,
    }


# --- the views ------------------------------------------------------------------------------------


class CampaignWorkflow:
    """The workflow's views, bound to the CampaignAdmin that mounts them."""

    def __init__(self, model_admin):
        self.model_admin = model_admin

    def urls(self) -> list:
        view = self.model_admin.admin_site.admin_view
        routes = {
            "preview": self.preview,
            "review": self.review,
            "send": self.send_now,
            "unschedule": self.transition(campaign_unschedule, _("back to draft")),
            "pause": self.transition(campaign_pause, _("paused")),
            "resume": self.transition(campaign_resume, _("sending resumed")),
            "cancel": self.transition(campaign_cancel, _("cancelled")),
            "duplicate": self.duplicate,
        }
        return [
            path(f"<int:pk>/{name}/", view(fn), name=f"subscriptions_campaign_{name}")
            for name, fn in routes.items()
        ]

    def campaign(self, request, pk: int, *, act: bool) -> Campaign:
        campaign = get_object_or_404(Campaign.objects.select_related("topic"), pk=pk)
        if not self.model_admin.has_view_permission(request, campaign):
            raise PermissionDenied
        if act and not self.model_admin.may_act(request):
            raise PermissionDenied
        return campaign

    def render(self, request, campaign: Campaign, template: str, title: str, step: str, **extra):
        context = {
            **self.model_admin.admin_site.each_context(request),
            "opts": Campaign._meta,
            "original": campaign,
            "title": title,
            "campaign": campaign,
            "may_act": self.model_admin.may_act(request),
            **workflow_context(campaign, step),
            **extra,
        }
        return TemplateResponse(request, f"admin/subscriptions/campaign/{template}.html", context)

    def back_to(self, campaign: Campaign, name: str = "change"):
        return redirect(reverse(f"admin:subscriptions_campaign_{name}", args=[campaign.pk]))

    # The email's own HTML shows in script-less sandboxed iframes with its inline styles.
    @csp_replace(settings.CSP_EMAIL_PREVIEW)
    def preview(self, request, pk: int):
        """Preview at desktop and phone widths as a contact (in their language) or a stand-in;
        POST sends a test (change permission) to a saved list and/or typed addresses."""
        campaign = self.campaign(request, pk, act=request.method == "POST")
        as_form = PreviewAsForm(request.GET or None)
        test_form = TestSendForm(
            request.POST or None, initial={"contact": request.GET.get("contact", "")}
        )
        contact = None
        if as_form.is_bound and as_form.is_valid():
            contact = as_form.cleaned_data["contact"]
        sent = request.method == "POST" and test_form.is_valid()
        if sent and self._test_send(request, campaign, test_form):
            return redirect(request.get_full_path())
        message, error = None, ""
        if not as_form.errors:
            try:
                message = campaign_preview(campaign=campaign, contact=contact).as_email()
            except (InvalidCampaignTemplate, CampaignRenderError) as exc:
                error = str(exc)
        html = ""
        if message is not None:
            html = next((c for c, mime in message.alternatives if mime == "text/html"), "")
        return self.render(
            request,
            campaign,
            "preview",
            _("Preview and test: %(name)s") % {"name": campaign},
            "preview",
            as_form=as_form,
            test_form=test_form,
            contact=contact,
            message=message,
            html=html,
            error=error,
            test_lists=TestList.objects.all(),
            max_test_recipients=MAX_TEST_RECIPIENTS,
            test_sends=campaign.test_sends.all()[:10],
        )

    def _test_send(self, request, campaign: Campaign, form: TestSendForm) -> bool:
        try:
            result = campaign_test_send(
                campaign=campaign,
                recipients=form.cleaned_data["recipients"],
                by=f"admin:{request.user.get_username()}",
                user=request.user,
                as_contact=form.cleaned_data["contact"],
            )
        except REFUSALS as exc:
            form.add_error(None, str(exc))
            return False
        if result.sent:
            messages.success(request, _("Test sent to %(to)s.") % {"to": ", ".join(result.sent)})
        if result.refused:
            messages.warning(
                request,
                _("Not sent to suppressed addresses: %(to)s.") % {"to": ", ".join(result.refused)},
            )
        return True

    def review(self, request, pk: int):
        """The audience counted now, who is left out and why, what goes out; POST schedules."""
        campaign = self.campaign(request, pk, act=request.method == "POST")
        form = ScheduleForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            at, zone = form.cleaned_data["at"], form.cleaned_data["time_zone"]
            try:
                campaign_schedule(campaign=campaign, at=at, time_zone=zone)
            except REFUSALS as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, _("Scheduled for %(when)s.") % {"when": schedule_text(campaign)}
                )
                return self.back_to(campaign)
        return self.render(
            request,
            campaign,
            "review",
            _("Review: %(name)s") % {"name": campaign},
            "review",
            review=campaign_review(campaign) if campaign.status in STARTABLE else None,
            schedule_form=form,
            from_email=campaign.from_email or settings.DEFAULT_FROM_EMAIL,
        )

    def send_now(self, request, pk: int):
        """GET: the confirmation naming the count; POST: start sending (lifecycle)."""
        campaign = self.campaign(request, pk, act=True)
        if campaign.status not in STARTABLE:
            messages.info(request, _("This campaign has already started."))
            return self.back_to(campaign, "progress")
        if request.method == "POST":
            try:
                campaign_start(campaign=campaign, user=request.user)
            except REFUSALS as exc:
                messages.error(request, str(exc))
                return self.back_to(campaign, "review")
            messages.success(request, _("Sending started."))
            return self.back_to(campaign, "progress")
        return self.render(
            request,
            campaign,
            "send_confirm",
            _("Send %(name)s now?") % {"name": campaign},
            "send",
            review=campaign_review(campaign),
        )

    def transition(self, service, done: str):
        def view(request, pk: int):
            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            campaign = self.campaign(request, pk, act=True)
            try:
                service(campaign=campaign)
            except REFUSALS as exc:
                messages.error(request, f"{campaign}: {exc}")
            else:
                messages.success(request, f"{campaign}: {done}.")
            return self.back_to(campaign)

        return view

    def duplicate(self, request, pk: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        campaign = self.campaign(request, pk, act=True)
        if not self.model_admin.has_add_permission(request):
            raise PermissionDenied
        copy = campaign_duplicate(campaign=campaign, user=request.user)
        messages.success(request, _("Duplicated as a new draft: %(name)s.") % {"name": copy})
        return self.back_to(copy)
