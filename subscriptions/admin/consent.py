"""Admin for contacts, topics, suppressions, the consent ledger and transactional mail.

Nothing here changes consent directly: subscriptions are read-only in the admin, and the
"Consent actions" panel on a contact's page calls the consent services with an Actor whose
source is `admin` and whose staff_user is the signed-in employee, so every change is on the
ledger and rule 5 (no resubscribing someone who opted out) holds here as everywhere.
"""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prefcenter.log_redaction import redact_link_secrets

from ..addresses import InvalidAddress, address_key, normalize_email
from ..consent.confirmations import subscription_request
from ..consent.errors import ConsentError, ResubscribeRequiresConfirmation
from ..consent.ledger import Actor
from ..consent.subscriptions import (
    contact_unsubscribe_all,
    subscription_pause,
    subscription_resume,
    subscription_subscribe,
    subscription_unsubscribe,
)
from ..models import (
    ConfirmationRequest,
    ConsentEvent,
    Contact,
    LinkHit,
    Subscription,
    Topic,
    TransactionalMessage,
)
from ..models.choices import Frequency, LegalBasis, Source


def staff_actor(request: HttpRequest, *, evidence: str = "") -> Actor:
    """The provenance of a change made in the admin: the employee, their browser, the evidence."""
    return Actor.from_request(
        request, Source.ADMIN, staff_user=request.user, evidence=evidence.strip()
    )


def email_key_lookup(term: str, field: str = "email_key") -> dict[str, str]:
    """Filter kwargs for an address search: an exact (indexed) match for a whole address,
    otherwise a substring of the lowercased key, so staff can type part of one."""
    try:
        return {field: address_key(normalize_email(term))}
    except InvalidAddress:
        return {f"{field}__contains": term.lower()}


class ReadOnlyAdminMixin:
    """Viewable by staff with the view permission; never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- topics ---------------------------------------------------------------------------------


class TopicForm(forms.ModelForm):
    frequencies = forms.MultipleChoiceField(
        choices=Frequency.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=_("Frequencies offered"),
        help_text=_("The first one ticked is the default. None ticked: as it happens."),
    )

    class Meta:
        model = Topic
        fields = ["name", "slug", "description", "channel", "frequencies", "is_active", "position"]

    def clean_frequencies(self) -> list[str]:
        chosen = set(self.cleaned_data["frequencies"])
        return [value for value in Frequency.values if value in chosen]


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    form = TopicForm
    list_display = ["name", "slug", "channel", "is_active", "position", "subscriber_count"]
    list_editable = ["position"]
    list_filter = ["channel", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                subscribed=Count("subscriptions", filter=Q(subscriptions__status="subscribed"))
            )
        )

    @admin.display(description=_("subscribed"), ordering="subscribed")
    def subscriber_count(self, obj: Topic) -> int:
        return obj.subscribed

    def has_delete_permission(self, request, obj=None):
        # Subscriptions and ledger rows point at topics; retire a topic by deactivating it.
        return False


# --- contacts -------------------------------------------------------------------------------


class SubscriptionInline(ReadOnlyAdminMixin, admin.TabularInline):
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


class ConsentEventInline(ReadOnlyAdminMixin, admin.TabularInline):
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


class LinkHitInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Opens of email links: mail scanners show up here, and never change consent."""

    model = LinkHit
    fields = ["day", "kind", "topic", "count", "created_at", "last_at", "user_agent"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("link opens (GET only, never a change of consent)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("topic")


class ConfirmationRequestInline(ReadOnlyAdminMixin, admin.TabularInline):
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
class ContactAdmin(admin.ModelAdmin):
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
    # The search box matches the address through email_key (lowercased normalized address)
    # and the host product's external id; see get_search_results.
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

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        matches, may_have_duplicates = super().get_search_results(request, queryset, term)
        return matches | queryset.filter(**email_key_lookup(term)), may_have_duplicates

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


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Subscriptions are listed here; the actions change them through the consent services."""

    list_display = [
        "contact",
        "topic",
        "status",
        "legal_basis",
        "frequency",
        "paused_until",
        "updated_at",
    ]
    list_filter = ["status", "topic", "legal_basis", "frequency", "updated_at"]
    list_select_related = ["contact", "topic"]
    search_fields = ["=contact__external_id"]
    search_help_text = _("A contact's email address (or part of one), or an exact external id.")
    actions = ["unsubscribe_selected", "pause_selected", "resume_selected"]
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        matches, dupes = super().get_search_results(request, queryset, term)
        return matches | queryset.filter(**email_key_lookup(term, "contact__email_key")), dupes

    def _require_change(self, request: HttpRequest) -> Actor:
        if not request.user.has_perm("subscriptions.change_subscription"):
            raise PermissionDenied
        return staff_actor(request)

    @admin.action(description=_("Unsubscribe the selected subscriptions"))
    def unsubscribe_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        by = self._require_change(request)
        changed = sum(
            subscription_unsubscribe(contact=s.contact, topic=s.topic, by=by)
            for s in queryset.filter(contact__erased_at__isnull=True)
        )
        self.message_user(request, _("%(n)d subscriptions unsubscribed.") % {"n": changed})

    @admin.action(description=_("Pause the selected subscriptions for 30 days"))
    def pause_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        by = self._require_change(request)
        until = timezone.now() + datetime.timedelta(days=30)
        changed = sum(
            subscription_pause(contact=s.contact, topic=s.topic, until=until, by=by)
            for s in queryset.filter(contact__erased_at__isnull=True)
        )
        self.message_user(request, _("%(n)d subscriptions paused for 30 days.") % {"n": changed})

    @admin.action(description=_("Resume the selected subscriptions"))
    def resume_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        by = self._require_change(request)
        changed = sum(
            subscription_resume(contact=s.contact, topic=s.topic, by=by)
            for s in queryset.filter(contact__erased_at__isnull=True)
        )
        self.message_user(request, _("%(n)d subscriptions resumed.") % {"n": changed})


# --- the ledger and transactional mail: read-only -------------------------------------------


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "contact",
        "topic",
        "action",
        "old_status",
        "new_status",
        "source",
        "actor",
    ]
    list_filter = ["action", "source", "topic", "created_at"]
    list_select_related = ["contact", "topic"]
    date_hierarchy = "created_at"
    search_fields = ["=actor"]
    show_full_result_count = False
    search_help_text = _("A contact's email address (or part of one), or an exact actor.")
    ordering = ["-created_at", "-id"]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        matches, dupes = super().get_search_results(request, queryset, term)
        return matches | queryset.filter(**email_key_lookup(term, "contact__email_key")), dupes


@admin.register(TransactionalMessage)
class TransactionalMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """System mail as staff may see it: the bodies carry the person's confirmation, privacy
    and preference links, so they are shown with every link token redacted; otherwise anyone
    with the view permission could confirm a double opt-in (lifting an unsubscribe-all) or
    download a person's data in their place."""

    list_display = ["created_at", "kind", "to_email", "subject", "status", "sent_at"]
    list_filter = ["status", "kind", "created_at"]
    search_fields = ["to_email", "subject"]
    date_hierarchy = "created_at"
    fields = [
        "kind",
        "to_email",
        "subject",
        "text_without_links",
        "status",
        "error",
        "esp_message_id",
        "created_at",
        "sent_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("text (link tokens hidden)"))
    def text_without_links(self, obj: TransactionalMessage) -> str:
        return redact_link_secrets(obj.text_body)
