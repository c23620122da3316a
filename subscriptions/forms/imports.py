"""The console's "Import contacts" upload form: it checks what a person filled in, then hands
the file to the one import service (consent.importing.import_start), whose refusal of the file
(encoding, no email column, a run already going on the topic, ...) is shown at the field."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from unfold.widgets import (
    INPUT_CLASSES,
    UnfoldAdminRadioSelectWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from ..consent.importing import ImportFileError, import_start
from ..consent.ledger import Actor
from ..models import Import, Topic
from ..models.choices import ImportMode, LegalBasis, SuppressionReason

# A list may suppress for these reasons; `erased` is only ever a person's own erasure.
LIST_REASONS = [(value, label) for value, label in SuppressionReason.choices if value != "erased"]


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8 (Excel: 'CSV UTF-8'), comma, semicolon or tab separated, a header row with "
            "an 'email' column; other columns (external_id, locale, ...) are read too."
        ),
        widget=forms.FileInput(
            attrs={"class": " ".join(INPUT_CLASSES), "accept": ".csv,.txt,.tsv,text/csv"}
        ),
    )
    mode = forms.ChoiceField(
        label=_("What to do with the addresses"),
        choices=ImportMode.choices,
        initial=ImportMode.SUBSCRIBE,
        widget=UnfoldAdminRadioSelectWidget,
    )
    topic = forms.ModelChoiceField(
        label=_("Topic"),
        queryset=Topic.objects.order_by("position", "name"),
        to_field_name="slug",
        required=False,
        help_text=_("The topic the list is subscribed to."),
        widget=UnfoldAdminSelectWidget,
    )
    source = forms.CharField(
        label=_("Source"),
        max_length=140,
        help_text=_(
            "Where the list came from, e.g. 'Mailchimp export 2026-11'. Kept in the ledger."
        ),
        widget=UnfoldAdminTextInputWidget,
    )
    legal_basis = forms.ChoiceField(
        label=_("Legal basis"),
        choices=LegalBasis.choices,
        initial=LegalBasis.CONSENT,
        required=False,
        help_text=_("Why you may mail these people: their consent, or a soft opt-in."),
        widget=UnfoldAdminSelectWidget,
    )
    reason = forms.ChoiceField(
        label=_("Reason for the suppression"),
        choices=[("", "—"), *LIST_REASONS],
        required=False,
        help_text=_(
            "For a suppression list, e.g. another tool's 'unsubscribed' or 'cleaned' export. "
            "Only the addresses' hashes are kept."
        ),
        widget=UnfoldAdminSelectWidget,
    )
    dry_run = forms.BooleanField(
        label=_("Dry run"),
        required=False,
        help_text=_("Check the file and count what would happen; change nothing."),
        widget=UnfoldBooleanSwitchWidget,
    )

    def clean(self) -> dict:
        data = super().clean()
        mode = data.get("mode")
        if mode == ImportMode.SUBSCRIBE:
            if not data.get("topic") and "topic" not in self.errors:
                self.add_error("topic", _("Choose the topic to subscribe the list to."))
            if not data.get("legal_basis"):
                self.add_error("legal_basis", _("Choose the legal basis of the subscriptions."))
        if mode == ImportMode.SUPPRESS and not data.get("reason"):
            self.add_error("reason", _("Choose why these addresses are suppressed."))
        return data

    def start(self, *, actor: Actor) -> Import | None:
        """Start the import (run by a worker); None when the service refused the file, the
        reason then being this form's error at the file field. Call once is_valid()."""
        data = self.cleaned_data
        upload = data["file"]
        mode = data["mode"]
        try:
            return import_start(
                file=upload.file,
                filename=upload.name,
                mode=mode,
                topic=data["topic"] if mode == ImportMode.SUBSCRIBE else None,
                source=data["source"],
                legal_basis=data["legal_basis"] or LegalBasis.CONSENT,
                reason=data["reason"] if mode == ImportMode.SUPPRESS else "",
                actor=actor,
                dry_run=data["dry_run"],
            )
        except ImportFileError as error:
            self.add_error("file", str(error))
            return None
