"""The public subscriber pages: subscribe, confirm, unsubscribe (the preference pages are in
views/preferences.py, the error pages in views/errors.py).

Views parse, call a service and render. Token pages render in the contact's own language.
Bad tokens, unknown topics and invalid addresses answer a styled 4xx page and change nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import slug_re
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .. import ratelimit
from ..consent import tasks as public_forms
from ..consent.confirmations import confirmation_accept, confirmation_check
from ..consent.errors import ConfirmationOvertaken, ConfirmationUnusable
from ..consent.ledger import Actor
from ..consent.link_hits import link_hit_record
from ..consent.subscriptions import contact_unsubscribe_all, subscription_unsubscribe
from ..consent.tokens import (
    EPOCH,
    BadToken,
    preferences_url,
    read_confirm_token,
    read_unsubscribe_link,
)
from ..forms import SubscribeForm, subscribe_wording
from ..models import Topic
from ..models.choices import LinkHitKind, LinkVia, Source, SubscriptionStatus
from ..models.policy import current_policy_version
from .errors import bad_link, error_page, post_data, rate_limited, try_again_soon
from .test_links import answers_test_links

# --- answers named in settings --------------------------------------------------------------


def csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: a styled page instead of Django's bare 403 (nothing was changed)."""
    return error_page(
        request,
        status=403,
        title=_("This form has expired"),
        message=_("Nothing was changed. Reload the page and try again."),
    )


# --- subscribe -------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def subscribe(request):
    if request.method == "GET":
        # /subscribe/?topic=<slug> pre-ticks topics, so a site can link to one list.
        # Only slugs reach the query: a NUL in one made PostgreSQL fail (a 500).
        slugs = [slug for slug in request.GET.getlist("topic") if slug_re.match(slug)]
        chosen = list(
            Topic.objects.filter(is_active=True, slug__in=slugs).values_list("pk", flat=True)
        )
        form = SubscribeForm(initial={"topics": chosen})
        return render(request, "subscriptions/subscribe.html", {"form": form})
    if ratelimit.hit(
        scope="subscribe", key=ratelimit.client_key(request), rate=settings.SUBSCRIBE_RATE_LIMIT
    ):
        return rate_limited(request, settings.SUBSCRIBE_RATE_LIMIT)
    form = SubscribeForm(post_data(request))
    if not form.is_valid():
        return render(request, "subscriptions/subscribe.html", {"form": form}, status=400)
    data = form.cleaned_data
    if data["website"]:
        # A bot filled the honeypot: answer as if it worked, do nothing.
        return render(request, "subscriptions/subscribe_done.html")
    by = Actor.from_request(
        request,
        Source.SUBSCRIBE_FORM,
        wording=subscribe_wording(),
        policy_version=current_policy_version(),
    )
    # The lookup and the mail happen in the task: the request path is the same for a new,
    # known, subscribed or suppressed address, so its timing tells nobody which it was.
    try:
        public_forms.enqueue(
            public_forms.signup,
            email=data["email"],
            topic_ids=sorted(topic.pk for topic in data["topics"]),
            locale=get_language(),
            age_confirmed=data["age_confirmed"],
            actor=public_forms.actor_data(by),
        )
    except public_forms.BrokerUnavailable:
        return try_again_soon(request)
    return render(request, "subscriptions/subscribe_done.html")


# --- confirm ---------------------------------------------------------------------------------


def _confirmation_unusable(request, problem: ConfirmationUnusable) -> HttpResponse:
    """A genuine confirmation link that can no longer confirm: say why; nothing changed."""
    if isinstance(problem, ConfirmationOvertaken):
        return error_page(
            request,
            status=410,
            title=_("This confirmation no longer applies"),
            message=_(
                "You unsubscribed after we sent this link, so it no longer confirms anything. "
                "If you want these emails again, please sign up again."
            ),
        )
    return error_page(
        request,
        status=410,
        title=_("This link has already been used"),
        message=_("Each confirmation link works once. Nothing was changed."),
    )


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request, token: str):
    """GET shows the button; POST confirms once (confirmation_accept makes the link single-use)."""
    try:
        contact, confirmation = read_confirm_token(token)
    except BadToken as problem:
        return bad_link(request, problem)
    topics = list(confirmation.topics.all())
    with translation.override(contact.locale):
        try:
            if request.method == "GET":
                confirmation_check(confirmation)
                return render(
                    request, "subscriptions/confirm.html", {"contact": contact, "topics": topics}
                )
            wording = _("Yes, I want to receive these emails.")
            by = Actor.from_request(request, Source.CONFIRMATION, wording=wording)
            topics = confirmation_accept(confirmation=confirmation, by=by)
        except ConfirmationUnusable as problem:
            return _confirmation_unusable(request, problem)
        # Never fresher than the confirmation link itself: issued when it was sent.
        link = preferences_url(contact, confirmation.created_at, via=LinkVia.CONFIRMATION)
        context = {"contact": contact, "topics": topics, "preferences_url": link}
        return render(request, "subscriptions/confirm_done.html", context)


# --- unsubscribe -----------------------------------------------------------------------------


@answers_test_links("unsubscribe")  # rule 9: a test send's links answer and change nothing
@csrf_exempt  # RFC 8058: mailbox providers POST without cookie, session or CSRF token.
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET shows a page (and counts the hit); POST unsubscribes at once, before answering.

    The answer to POST is 200 with no redirect and no cookie: the templates it renders use no
    session, CSRF token or messages.
    """
    try:
        unsubscribe_link = read_unsubscribe_link(token)
    except BadToken as problem:
        return bad_link(request, problem)
    contact, topic = unsubscribe_link.contact, unsubscribe_link.topic
    campaign_id = unsubscribe_link.campaign_id
    # A preference link reached from a never-expiring unsubscribe link counts as an old one;
    # it keeps the campaign, so a change made there counts for that campaign too.
    link = preferences_url(contact, EPOCH, via=LinkVia.UNSUBSCRIBE_PAGE, campaign_id=campaign_id)
    with translation.override(contact.locale):
        context = {"contact": contact, "topic": topic, "preferences_url": link}
        if request.method == "GET":
            link_hit_record(
                contact=contact,
                topic=topic,
                kind=LinkHitKind.UNSUBSCRIBE,
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
            subscription = contact.subscriptions.filter(topic=topic).first()
            context["already"] = (
                subscription is not None and subscription.status == SubscriptionStatus.UNSUBSCRIBED
            )
            return render(request, "subscriptions/unsubscribe.html", context)
        data = post_data(request)
        one_click = data.get("List-Unsubscribe") == "One-Click"
        source = Source.ONE_CLICK if one_click else Source.UNSUBSCRIBE_LINK
        by = Actor.from_request(request, source, campaign_id=campaign_id)
        context["scope_all"] = not one_click and data.get("scope") == "all"
        if context["scope_all"]:
            contact_unsubscribe_all(contact=contact, by=by)
        else:
            subscription_unsubscribe(contact=contact, topic=topic, by=by)
        return render(request, "subscriptions/unsubscribe_done.html", context)
