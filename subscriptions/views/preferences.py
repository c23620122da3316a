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
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from .. import ratelimit
from ..addresses import InvalidAddress
from ..consent import tasks as public_forms
from ..consent.contacts import contact_get_or_create
from ..consent.errors import UnknownFrequency
from ..consent.ledger import Actor
from ..consent.preferences import preferences_apply, preferences_topics
from ..consent.subscriptions import contact_unsubscribe_all, subscription_pause, subscription_resume
from ..consent.tokens import BadToken, HostLinkExpired, PreferenceLink, read_preference_link
from ..forms import AddressForm, PreferencesForm, preferences_wording
from ..integrations.links import frame_ancestors, way_back
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


def _embedded(request, link: PreferenceLink) -> bool:
    """`?embed=1` on a host link: the page without chrome, framed by the host's profile page."""
    return request.GET.get("embed") == "1" and bool(frame_ancestors(link))


def _preference_page(request, *, link: PreferenceLink):
    """The page for `link`; nothing on it is fresher than `link` (its privacy buttons carry a
    request-only token, its forms post back to the same URL)."""
    topics = preferences_topics()
    if request.method == "POST":
        return _preferences_post(request, link, topics)
    return _preferences_render(request, link, topics, PreferencesForm(topics=topics))


def _actor(request, link: PreferenceLink) -> Actor:
    """Who acts from this page: the person (from a mailed or host link, or their own account),
    or a staff user, whose session proves nothing about the person and is named as such."""
    if link.via == LinkVia.STAFF_ACCOUNT:
        return Actor.from_request(
            request,
            Source.ADMIN,
            actor=request.user.get_username(),
            staff_user=request.user,
            wording=preferences_wording(),
        )
    source = Source.HOST_LINK if link.via == LinkVia.HOST_LINK else Source.PREFERENCE_PAGE
    return Actor.from_request(
        request, source, wording=preferences_wording(), campaign_id=link.campaign_id
    )


def _preferences_post(request, link: PreferenceLink, topics):
    contact, link_issued_at = link.contact, link.issued_at
    data = post_data(request)
    action = data.get("action", "save")
    by = _actor(request, link)
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
    embed = "&embed=1" if _embedded(request, link) else ""
    return redirect(f"{request.path}?notice={notice}{embed}")


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
        "way_back": way_back(link),
        # A host link's forms are authorised by the token in their URL, not by a CSRF cookie
        # (see `preferences`): they carry no CSRF token, so the page sets no cookie.
        "token_authorised": link.via == LinkVia.HOST_LINK,
        "embed": _embedded(request, link),
        "embed_origins": frame_ancestors(link),
    }
    response = render(request, "subscriptions/preferences.html", context, status=status)
    if context["embed"]:
        _framed_by(response, frame_ancestors(link))
    return response


def _framed_by(response, origins: list[str]):
    """Let `origins` (the host's) frame this response; everywhere else 'none' and DENY stand."""
    response._csp_replace = {"frame-ancestors": origins}
    response.xframe_options_exempt = True
    return response


def _host_link_expired(request):
    """An expired host link: the way to a fresh one. Framed, it stays visible in the host's page
    (a genuine host link's page may be framed there; this one offers no action)."""
    embed = request.GET.get("embed") == "1" and bool(settings.PREFERENCE_LINK_ORIGINS)
    context = {
        "status": 410,
        "title": _("This link has expired"),
        "embed": embed,
        "embed_origins": settings.PREFERENCE_LINK_ORIGINS,
        "message": _(
            "For your safety, a link to your preferences from %(organization)s's app works "
            "only for %(hours)s hours. Go back to the app and open your email preferences "
            "again for a fresh one, or ask us for a link by email."
        )
        % {
            "organization": settings.ORGANIZATION_NAME,
            "hours": settings.PREFERENCE_LINK_MAX_AGE_HOURS,
        },
    }
    response = render(request, "subscriptions/error.html", context, status=410)
    return _framed_by(response, settings.PREFERENCE_LINK_ORIGINS) if embed else response


# A mailed link's page keeps Django's CSRF check, as it always had.
_csrf_checked_page = csrf_protect(_preference_page)


@answers_test_links("preferences")  # outermost: it decides where the CSRF check applies
@csrf_exempt  # chosen per link below
@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request, token: str):
    try:
        link = read_preference_link(token)
    except HostLinkExpired:
        return _host_link_expired(request)
    except BadToken as problem:
        return bad_link(request, problem)
    with translation.override(link.contact.locale):
        if link.via == LinkVia.HOST_LINK:
            # No CSRF check: inside the host's iframe the page is a third-party context where
            # browsers send no (SameSite) CSRF cookie, so the check could never pass. Nor is it
            # needed: CSRF abuses authority the browser adds by itself (a cookie), and this
            # page takes none from the browser. The signed, short-lived token in the URL is the
            # whole authority, and a forging site that knew it could use it directly anyway;
            # one that does not know it cannot name a target to post to.
            return _preference_page(request, link=link)
        return _csrf_checked_page(request, link=link)


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
        # A signed-in user proved who they are just now: their link is as fresh as it gets. A
        # staff account proves nothing about whose address it carries (consent.preferences).
        via = LinkVia.STAFF_ACCOUNT if request.user.is_staff else LinkVia.ACCOUNT
        link = PreferenceLink(contact=contact, issued_at=timezone.now(), via=via)
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
