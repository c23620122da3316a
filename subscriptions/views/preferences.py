"""The preference pages: from a mailed or host link (`/preferences/<token>/`), for a signed-in
user (`/account/preferences/`), and the form that emails a fresh link to someone who lost theirs.

A link and a sign-in open the same page, whose form posts to the same services.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from .. import ratelimit
from ..addresses import InvalidAddress
from ..consent import tasks as public_forms
from ..consent.contacts import contact_get_or_create
from ..consent.errors import UnknownFrequency
from ..consent.ledger import Actor
from ..consent.preferences import preferences_apply, preferences_topics
from ..consent.subscriptions import contact_unsubscribe_all, subscription_pause, subscription_resume
from ..consent.tokens import BadToken, PreferenceLink, read_preference_link
from ..forms import AddressForm, PreferencesForm, preferences_wording
from ..models import Contact, Suppression
from ..models.choices import PAUSE_DAYS, LinkVia, Source, SubscriptionStatus, SuppressionReason
from .errors import bad_link, error_page, post_data, rate_limited, try_again_soon
from .test_links import answers_test_links


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
    data = post_data(request)
    action = data.get("action", "save")
    by = Actor.from_request(
        request,
        Source.PREFERENCE_PAGE,
        wording=preferences_wording(),
        campaign_id=link.campaign_id,
    )
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
        return error_page(
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
        return bad_link(request, problem)
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
            return error_page(
                request,
                status=400,
                title=_("No email address"),
                message=_("Your account has no valid email address to manage preferences for."),
            )
        if contact.user_id is None:
            contact.user = request.user
            contact.save(update_fields=["user", "updated_at"])
        elif contact.user_id != request.user.pk:
            return error_page(
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
        return rate_limited(request, settings.PREFERENCE_LINK_RATE_LIMIT_IP)
    form = AddressForm(post_data(request))
    if not form.is_valid():
        return render(request, "subscriptions/preferences_request.html", {"form": form}, status=400)
    # The lookup, the per-address limit and the mail happen in the task (see subscribe).
    try:
        public_forms.enqueue(public_forms.preference_link, email=form.cleaned_data["email"])
    except public_forms.BrokerUnavailable:
        return try_again_soon(request)
    return render(request, "subscriptions/preferences_request_done.html")
