"""Admin for contacts: their subscriptions, ledger, confirmations and link opens, and the
"Consent actions" panel.

Nothing here changes consent directly: subscriptions are read-only in the admin, and the panel on
a contact's page calls the consent services with an Actor whose source is `admin` and whose
staff_user is the signed-in employee (admin.base.staff_actor), so every change is on the ledger
and rule 5 (no resubscribing someone who opted out) holds here as everywhere.
"""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline

from ..consent.confirmations import subscription_request
from ..consent.errors import ConsentError, ResubscribeRequiresConfirmation
from ..consent.subscriptions import (
    contact_unsubscribe_all,
    subscription_pause,
    subscription_resume,
    subscription_subscribe,
    subscription_unsubscribe,
)
from ..models import ConfirmationRequest, ConsentEvent, Contact, LinkHit, Subscription, Topic
from ..models.choices import LegalBasis
from .base import AddressSearchMixin, ReadOnlyAdminMixin, staff_actor


class SubscriptionInline(ReadOnlyAdminMixin, TabularInline):
    model = Subscription
    fields = [
        "topic",
        "status",
        "legal_basis",
        "implied_by",
        "frequency",
        "paused_until",
        "consented_at",
        "updated_at",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = _("subscriptions (change them with the consent actions below)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("topic")


class ConsentEventInline(ReadOnlyAdminMixin, TabularInline):
    model = ConsentEvent
    fields = [
        "created_at",
        "topic",
        "action",
        "old_status",
        "new_status",
        "source",
        "actor",
        "policy_version",
        "evidence",
    ]
    readonly_fields = fields
    ordering = ["created_at", "id"]
    extra = 0
    can_delete = False
    verbose_name_plural = _("consent ledger")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("topic")


class LinkHitInline(ReadOnlyAdminMixin, TabularInline):
    """Opens of email links: mail scanners show up here, and never change consent."""

    model = LinkHit
    fields = ["day", "kind", "topic", "count", "created_at", "last_at", "user_agent"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("link opens (GET only, never a change of consent)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("topic")


class ConfirmationRequestInline(ReadOnlyAdminMixin, TabularInline):
    """Double opt-in emails sent: each link confirms once, and the sign-up form's age box waits
    here until the person confirms."""

    model = ConfirmationRequest
    fields = ["created_at", "topic_names", "age_confirmed", "used_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("confirmation emails (single-use links)")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("topics")

    @admin.display(description=_("topics"))
    def topic_names(self, obj: ConfirmationRequest) -> str:
        return ", ".join(topic.name for topic in obj.topics.all())


class ErasedFilter(admin.SimpleListFilter):
    title = _("erased")
    parameter_name = "erased"

    def lookups(self, request, model_admin):
        return [("no", _("Active")), ("yes", _("Erased"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(erased_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(erased_at__isnull=False)
        return queryset


class ConsentActionForm(forms.Form):
    """The consent actions panel on a contact's page; each button names its action."""

    ACTIONS = {
        "unsubscribe": _("Unsubscribe from topic"),
        "subscribe": _("Subscribe (with evidence)"),
        "request_confirmation": _("Send double opt-in confirmation"),
        "unsubscribe_all": _("Unsubscribe from all"),
        "pause_30": _("Pause all for 30 days"),
        "resume": _("Resume"),
    }
    NEEDS_TOPIC = {"unsubscribe", "subscribe", "request_confirmation"}

    action = forms.ChoiceField(choices=list(ACTIONS.items()))
    topic = forms.ModelChoiceField(
        queryset=Topic.objects.filter(is_active=True), required=False, label=_("Topic")
    )
    legal_basis = forms.ChoiceField(
        choices=LegalBasis.choices,
        initial=LegalBasis.CONSENT,
        required=False,
        label=_("Legal basis"),
    )
    evidence = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        label=_("Evidence"),
        help_text=_("Where and how the person agreed (required to subscribe)."),
    )

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action in self.NEEDS_TOPIC and not data.get("topic"):
            self.add_error("topic", _("Choose a topic for this action."))
        if action == "subscribe" and not (data.get("evidence") or "").strip():
            self.add_error("evidence", _("Say where and how the person agreed."))
        return data


@admin.register(Contact)
class ContactAdmin(AddressSearchMixin, ModelAdmin):
    change_form_template = "admin/subscriptions/contact/change_form.html"
    list_display = ["__str__", "external_id", "locale", "country", "created_at", "is_active"]
    list_filter = [
        ErasedFilter,
        "subscriptions__status",
        "subscriptions__topic",
        "locale",
        "country",
        "created_at",
    ]
    # The search box matches the address through email_key (lowercased normalized address,
    # AddressSearchMixin) and the host product's external id.
    search_fields = ["=external_id"]
    search_help_text = _("An email address (or part of one), or an exact external id.")
    readonly_fields = ["email", "created_at", "updated_at", "erased_at"]
    fields = [
        "email",
        "external_id",
        "user",
        "locale",
        "time_zone",
        "country",
        "attributes",
        "birth_date",
        "age_confirmed",
        "created_at",
        "updated_at",
        "erased_at",
    ]
    raw_id_fields = ["user"]
    inlines = [SubscriptionInline, ConsentEventInline, ConfirmationRequestInline, LinkHitInline]
    actions = ["unsubscribe_all_selected"]
    list_per_page = 50
    # A million contacts: skip the second COUNT(*) of the whole table on every filtered list.
    show_full_result_count = False

    @admin.display(description=_("active"), boolean=True)
    def is_active(self, obj: Contact) -> bool:
        return not obj.is_erased and obj.merged_into_id is None

    def has_add_permission(self, request):
        # Contacts come in through forms, the API and imports, which record consent with them.
        return False

    def has_delete_permission(self, request, obj=None):
        # Ledger rows protect the contact; erasure (scrubbing, not deleting) is its own action.
        return False

    # --- consent actions -----------------------------------------------------------------

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/consent/",
                self.admin_site.admin_view(self.consent_action_view),
                name="subscriptions_contact_consent",
            ),
        ]
        return urls + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "consent_form": ConsentActionForm()}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description=_("Unsubscribe selected contacts from all topics"))
    def unsubscribe_all_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        if not self.has_change_permission(request):
            raise PermissionDenied
        by = staff_actor(request)
        contacts = queryset.filter(erased_at__isnull=True)
        for contact in contacts:
            contact_unsubscribe_all(contact=contact, by=by, note="admin bulk action")
        self.message_user(
            request, _("%(n)d contacts unsubscribed from all topics.") % {"n": len(contacts)}
        )

    def consent_action_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        contact = get_object_or_404(Contact, pk=object_id)
        if not self.has_change_permission(request, contact):
            raise PermissionDenied
        back = HttpResponseRedirect(
            reverse("admin:subscriptions_contact_change", args=[contact.pk])
        )
        if contact.is_erased:
            self.message_user(request, _("This contact was erased."), messages.ERROR)
            return back
        form = ConsentActionForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    self.message_user(request, error, messages.ERROR)
            return back
        data = form.cleaned_data
        try:
            message = self._apply(request, contact, data)
        except ResubscribeRequiresConfirmation:
            self.message_user(
                request,
                _(
                    "Staff cannot subscribe %(contact)s to %(topic)s again: they opted out or "
                    "are on the suppression list. Only their own new consent can: use “Send "
                    "double opt-in confirmation”, or ask them to use their preference page."
                )
                % {"contact": contact, "topic": data["topic"]},
                messages.ERROR,
            )
            return back
        except ConsentError as error:
            self.message_user(request, str(error), messages.ERROR)
            return back
        self.message_user(request, message, messages.SUCCESS)
        return back

    def _apply(self, request: HttpRequest, contact: Contact, data: dict) -> str:
        """Call the one consent service the chosen action names; return what to tell staff."""
        action, topic = data["action"], data.get("topic")
        by = staff_actor(request, evidence=data.get("evidence") or "")
        names = {"contact": contact, "topic": topic}
        if action == "unsubscribe":
            changed = subscription_unsubscribe(contact=contact, topic=topic, by=by)
            if not changed:
                return _("%(contact)s was already unsubscribed from %(topic)s.") % names
            return _("%(contact)s is unsubscribed from %(topic)s.") % names
        if action == "subscribe":
            subscription_subscribe(
                contact=contact,
                topic=topic,
                by=by,
                legal_basis=data["legal_basis"] or LegalBasis.CONSENT,
            )
            return _("%(contact)s is subscribed to %(topic)s.") % names
        if action == "request_confirmation":
            awaiting = subscription_request(contact=contact, topics=[topic], by=by)
            if not awaiting:
                return _("Nothing to confirm: already subscribed, or the address gets no mail.")
            return _("A confirmation email for %(topic)s was sent to %(contact)s.") % names
        if action == "unsubscribe_all":
            contact_unsubscribe_all(contact=contact, by=by, note="admin")
            return _("%(contact)s is unsubscribed from all topics and suppressed.") % names
        if action == "pause_30":
            until = timezone.now() + datetime.timedelta(days=30)
            changed = subscription_pause(contact=contact, until=until, by=by)
            return _("%(n)d subscriptions paused for 30 days.") % {"n": changed}
        changed = subscription_resume(contact=contact, by=by)
        return _("%(n)d subscriptions resumed.") % {"n": changed}
