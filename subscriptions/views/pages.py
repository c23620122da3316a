"""The public subscriber pages: subscribe, confirm, unsubscribe, preferences.

Views parse, call a service and render. Token pages render in the contact's own language.
Bad tokens, unknown topics and invalid addresses answer a styled 4xx page and change nothing.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.validators import slug_re
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .. import ratelimit
from ..addresses import InvalidAddress
from ..consent import tasks as public_forms
from ..consent.confirmations import confirmation_accept, confirmation_check
from ..consent.contacts import contact_get_or_create
from ..consent.errors import ConfirmationOvertaken, ConfirmationUnusable, UnknownFrequency
from ..consent.ledger import Actor
from ..consent.link_hits import link_hit_record
from ..consent.preferences import preferences_apply, preferences_topics
from ..consent.subscriptions import (
    contact_unsubscribe_all,
    subscription_pause,
    subscription_resume,
    subscription_unsubscribe,
)
from ..consent.tokens import (
    EPOCH,
    BadToken,
    ContactGone,
    PreferenceLink,
    preferences_url,
    read_confirm_token,
    read_preference_link,
    read_unsubscribe_token,
)
from ..forms import (
    AddressForm,
    PreferencesForm,
    SubscribeForm,
    preferences_wording,
    subscribe_wording,
)
from ..models import Contact, LinkHit, Suppression, Topic
from ..models.choices import PAUSE_DAYS, LinkVia, Source, SubscriptionStatus, SuppressionReason
from ..models.policy import current_policy_version
from .privacy import gone_response
from .test_links import answers_test_links

# --- helpers ---------------------------------------------------------------------------------


def _error(request, *, status: int, title: str, message: str) -> HttpResponse:
    context = {"title": title, "message": message, "status": status}
    return render(request, "subscriptions/error.html", context, status=status)


def _bad_link(request, problem: BadToken | None = None) -> HttpResponse:
    if isinstance(problem, ContactGone):  # a genuine link of an erased contact
        return gone_response(request)
    if problem is not None and str(problem) == "expired":
        return _error(
            request,
            status=410,
            title=_("This link has expired"),
            message=_("For your safety this link only works for a while. Please sign up again."),
        )
    return _error(
        request,
        status=404,
        title=_("This link does not work"),
        message=_(
            "The link may be incomplete or mistyped. Copy the whole link from the email, "
            "or ask for a new link to your preferences."
        ),
    )


def _rate_limited(request, rate: str) -> HttpResponse:
    """429 with Retry-After: the length of the limit's window, as the admin sign-in says."""
    response = _error(
        request,
        status=429,
        title=_("Too many requests"),
        message=_("Please wait a while and try again."),
    )
    response["Retry-After"] = str(ratelimit.parse_rate(rate)[1])
    return response


def _try_again_soon(request) -> HttpResponse:
    """The broker is down: nothing was queued, so say so instead of pretending it worked."""
    response = _error(
        request,
        status=503,
        title=_("Please try again in a minute"),
        message=_("We could not take your request just now. Nothing was sent or changed."),
    )
    response["Retry-After"] = "60"
    return response


def service_unavailable(request) -> HttpResponse:
    """A service the request needs is down (prefcenter.middleware: the database): a styled 503
    that says nothing was changed, with Retry-After, instead of a bare 500."""
    return _try_again_soon(request)


def _post_data(request):
    """The form body, or an empty one when it cannot be parsed (bad multipart, bad charset)."""
    try:
        return request.POST
    except Exception:
        return {}


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
        return _rate_limited(request, settings.SUBSCRIBE_RATE_LIMIT)
    form = SubscribeForm(_post_data(request))
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
        return _try_again_soon(request)
    return render(request, "subscriptions/subscribe_done.html")


# --- confirm ---------------------------------------------------------------------------------


def _confirmation_unusable(request, problem: ConfirmationUnusable) -> HttpResponse:
    """A genuine confirmation link that can no longer confirm: say why; nothing changed."""
    if isinstance(problem, ConfirmationOvertaken):
        return _error(
            request,
            status=410,
            title=_("This confirmation no longer applies"),
            message=_(
                "You unsubscribed after we sent this link, so it no longer confirms anything. "
                "If you want these emails again, please sign up again."
            ),
        )
    return _error(
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
        return _bad_link(request, problem)
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
        contact, topic = read_unsubscribe_token(token)
    except BadToken as problem:
        return _bad_link(request, problem)
    # A preference link reached from a never-expiring unsubscribe link counts as an old one.
    link = preferences_url(contact, EPOCH, via=LinkVia.UNSUBSCRIBE_PAGE)
    with translation.override(contact.locale):
        context = {"contact": contact, "topic": topic, "preferences_url": link}
        if request.method == "GET":
            link_hit_record(
                contact=contact,
                topic=topic,
                kind=LinkHit.Kind.UNSUBSCRIBE,
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
            subscription = contact.subscriptions.filter(topic=topic).first()
            context["already"] = (
                subscription is not None and subscription.status == SubscriptionStatus.UNSUBSCRIBED
            )
            return render(request, "subscriptions/unsubscribe.html", context)
        data = _post_data(request)
        one_click = data.get("List-Unsubscribe") == "One-Click"
        by = Actor.from_request(request, Source.ONE_CLICK if one_click else Source.UNSUBSCRIBE_LINK)
        context["scope_all"] = not one_click and data.get("scope") == "all"
        if context["scope_all"]:
            contact_unsubscribe_all(contact=contact, by=by)
        else:
            subscription_unsubscribe(contact=contact, topic=topic, by=by)
        return render(request, "subscriptions/unsubscribe_done.html", context)


# --- preferences -----------------------------------------------------------------------------


def _notices() -> dict[str, str]:
    return {
        "saved": _("Your preferences are saved."),
        "unchanged": _("Nothing needed changing."),
        "confirm": _(
            "We have emailed you a link to confirm the new topics. They start once you click it."
        ),
        "paused": _("Your emails are paused."),
        "resumed": _("Your emails are back on."),
        "unsubscribed_all": _("You are unsubscribed from all marketing emails."),
    }


def _preference_page(request, *, link: PreferenceLink):
    """The page for `link`; nothing on it is fresher than `link` (its privacy buttons carry a
    request-only token, its forms post back to the same URL)."""
    topics = preferences_topics()
    if request.method == "POST":
        return _preferences_post(request, link, topics)
    return _preferences_render(request, link, topics, PreferencesForm(topics=topics))


def _preferences_post(request, link: PreferenceLink, topics):
    contact, link_issued_at = link.contact, link.issued_at
    data = _post_data(request)
    action = data.get("action", "save")
    by = Actor.from_request(request, Source.PREFERENCE_PAGE, wording=preferences_wording())
    if action == "save":
        form = PreferencesForm(data, topics=topics)
        if not form.is_valid():
            return _preferences_render(request, link, topics, form, status=400)
        try:
            result = preferences_apply(
                contact=contact,
                choices=form.choices(),
                by=by,
                link_issued_at=link_issued_at,
                link_via=link.via,
            )
        except UnknownFrequency:
            return _preferences_render(request, link, topics, form, status=400)
        if result.awaiting_confirmation:
            notice = "confirm"
        else:
            notice = "saved" if result.changed else "unchanged"
    elif action in PAUSE_DAYS:
        until = timezone.now() + datetime.timedelta(days=PAUSE_DAYS[action])
        subscription_pause(contact=contact, until=until, by=by)
        notice = "paused"
    elif action == "resume":
        subscription_resume(contact=contact, by=by)
        notice = "resumed"
    elif action == "unsubscribe_all":
        contact_unsubscribe_all(contact=contact, by=by)
        notice = "unsubscribed_all"
    else:
        return _error(
            request,
            status=400,
            title=_("Something went wrong"),
            message=_("We did not understand that request. Nothing was changed."),
        )
    # Post/redirect/get: reloading the page never repeats the change.
    return redirect(f"{request.path}?notice={notice}")


def _preferences_render(request, link: PreferenceLink, topics, form, status: int = 200):
    contact = link.contact
    now = timezone.now()
    subscriptions = {s.topic_id: s for s in contact.subscriptions.all()}
    rows = []
    for topic in topics:
        subscription = subscriptions.get(topic.pk)
        status_value = subscription.status if subscription else ""
        paused_until = (
            subscription.paused_until
            if subscription and subscription.paused_until and subscription.paused_until > now
            else None
        )
        if not form.is_bound:
            form.initial[f"on-{topic.slug}"] = status_value == SubscriptionStatus.SUBSCRIBED
            form.initial[f"freq-{topic.slug}"] = (
                subscription.frequency if subscription else topic.default_frequency
            )
        rows.append(
            {
                "topic": topic,
                "status": status_value,
                "paused_until": paused_until,
                "on": form[f"on-{topic.slug}"],
                "frequency": form[f"freq-{topic.slug}"],
            }
        )
    context = {
        "contact": contact,
        "link_issued_at": link.issued_at,
        "form": form,
        "rows": rows,
        "any_paused": any(r["paused_until"] for r in rows),
        "any_subscribed": any(r["status"] == SubscriptionStatus.SUBSCRIBED for r in rows),
        "notice": _notices().get(request.GET.get("notice", "")),
        "unsubscribed_all": Suppression.objects.for_contact(contact)
        .filter(reason=SuppressionReason.UNSUBSCRIBED_ALL)
        .exists(),
        "wording": preferences_wording(),
    }
    return render(request, "subscriptions/preferences.html", context, status=status)


@answers_test_links("preferences")  # outermost: it decides where the CSRF check applies
@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request, token: str):
    try:
        link = read_preference_link(token)
    except BadToken as problem:
        return _bad_link(request, problem)
    with translation.override(link.contact.locale):
        return _preference_page(request, link=link)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account_preferences(request):
    """The same page for a signed-in user; their Contact is linked (or created) from them."""
    contact = Contact.objects.active().filter(user=request.user).first()
    if contact is None:
        try:
            contact, _created = contact_get_or_create(email=request.user.email)
        except InvalidAddress:
            return _error(
                request,
                status=400,
                title=_("No email address"),
                message=_("Your account has no valid email address to manage preferences for."),
            )
        if contact.user_id is None:
            contact.user = request.user
            contact.save(update_fields=["user", "updated_at"])
        elif contact.user_id != request.user.pk:
            return _error(
                request,
                status=403,
                title=_("Not your address"),
                message=_("This email address belongs to another account."),
            )
    with translation.override(contact.locale):
        # A signed-in user proved who they are just now: their link is as fresh as it gets.
        link = PreferenceLink(contact=contact, issued_at=timezone.now(), via=LinkVia.ACCOUNT)
        return _preference_page(request, link=link)


@never_cache
@require_http_methods(["GET", "POST"])
def preferences_request(request):
    """Someone lost every email: send a fresh preference link, same answer for any address."""
    if request.method == "GET":
        return render(request, "subscriptions/preferences_request.html", {"form": AddressForm()})
    ip = ratelimit.client_key(request)
    if ratelimit.hit(scope="preflink-ip", key=ip, rate=settings.PREFERENCE_LINK_RATE_LIMIT_IP):
        return _rate_limited(request, settings.PREFERENCE_LINK_RATE_LIMIT_IP)
    form = AddressForm(_post_data(request))
    if not form.is_valid():
        return render(request, "subscriptions/preferences_request.html", {"form": form}, status=400)
    # The lookup, the per-address limit and the mail happen in the task (see subscribe).
    try:
        public_forms.enqueue(public_forms.preference_link, email=form.cleaned_data["email"])
    except public_forms.BrokerUnavailable:
        return _try_again_soon(request)
    return render(request, "subscriptions/preferences_request_done.html")


def csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: a styled page instead of Django's bare 403 (nothing was changed)."""
    return _error(
        request,
        status=403,
        title=_("This form has expired"),
        message=_("Nothing was changed. Reload the page and try again."),
    )
