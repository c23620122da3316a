"""The campaign composer's forms: the campaign (editor per body format, merge-field picker, checks
at the field on save) and its per-language content rows."""

from __future__ import annotations

from django import forms
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django_prose_editor.widgets import AdminProseEditorWidget
from js_asset import Media
from unfold.widgets import UnfoldAdminTextareaWidget

from ..campaigns.authoring import body_html, content_errors, convert_body, merge_fields
from ..campaigns.lifecycle import STARTABLE, campaign_validate
from ..campaigns.messages import FromNotAllowed, InvalidCampaignTemplate
from ..campaigns.segments import SegmentTopicMismatch, segment_check_fits
from ..models import Campaign, CampaignTranslation, EmailLayout
from ..models.choices import BodyFormat, CampaignStatus

# What the rich-text editor offers: what renders the same in every mail client.
RICH_TEXT_EXTENSIONS = {
    "Bold": True,
    "Italic": True,
    "Underline": True,
    "Strike": True,
    "Heading": {"levels": [1, 2, 3]},
    "BulletList": True,
    "OrderedList": True,
    "ListItem": True,
    "Blockquote": True,
    "HorizontalRule": True,
    "HardBreak": True,
    "Link": {"enableTarget": False},
    "History": True,
    "HTML": True,
}
# Which errors of authoring.content_errors show at which form field.
_ERROR_FIELDS = {"subject": "subject", "html_body": "body_source", "text_body": "text_body"}


def body_widget(body_format: str) -> forms.Widget:
    """The editor for a body written in `body_format`."""
    if body_format == BodyFormat.RICH:
        return AdminProseEditorWidget(
            config={"extensions": RICH_TEXT_EXTENSIONS}, preset="configurable"
        )
    return UnfoldAdminTextareaWidget(
        attrs={"rows": 18, "class": "font-mono", "spellcheck": "false", "data-merge-target": "1"}
    )


_BUTTON_CLASSES = (
    "w-full text-left border border-base-200 dark:border-base-700 rounded-default px-3 py-1.5 "
    "hover:bg-base-100 dark:hover:bg-base-800 cursor-pointer"
)


class MergeFieldPicker(forms.Widget):
    """The fields a body may use, as buttons that insert themselves at the cursor of the body,
    subject or text field last focused (subscriptions/static/subscriptions/merge_fields.js)."""

    class Media:
        js = ["subscriptions/merge_fields.js"]

    def render(self, name, value, attrs=None, renderer=None):
        buttons = format_html_join(
            "",
            '<li><button type="button" data-merge-field="{}" class="{}">'
            '<span class="block text-sm font-medium">{}</span>'
            '<code class="block text-xs opacity-70">{}</code></button></li>',
            (
                (field.expression, _BUTTON_CLASSES, field.label, field.expression)
                for field in merge_fields()  # one query per page shown
            ),
        )
        return format_html('<ul class="flex flex-col gap-1" data-merge-picker>{}</ul>', buttons)

    def value_from_datadict(self, data, files, name):
        return None


class EditorMediaAdminMixin:
    """Gives the change page's scripts the CSP nonce: the editor's import map is an inline
    script, which the site's Content-Security-Policy runs only with the request's nonce."""

    def render_change_form(self, request, context, *args, **kwargs):
        nonce = getattr(request, "csp_nonce", "")
        context["media"] = Media.from_media(context["media"], nonce=nonce)
        return super().render_change_form(request, context, *args, **kwargs)


def _add_content_errors(form: forms.ModelForm, errors: dict[str, list[str]]) -> None:
    for part, messages in errors.items():
        field = _ERROR_FIELDS[part]
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


class CampaignForm(forms.ModelForm):
    """Refuses what the sending service would refuse (a template that does not compile in the
    sandbox, a From address outside ALLOWED_FROM_EMAILS) and what would reach every recipient
    broken: an unknown merge field, a link that goes nowhere. Each error shows at its field.

    The body is written in its format's editor; switching the format converts it on save."""

    merge_fields = forms.Field(
        label=_("Merge fields"),
        required=False,
        widget=MergeFieldPicker,
        help_text=_("Click a field to insert it where the cursor is."),
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "topic",
            "segment",
            "layout",
            "subject",
            "from_email",
            "body_format",
            "body_source",
            "text_body",
        ]
        help_texts = {
            "body_format": _(
                "Changing the format converts the body on save and opens the matching editor."
            ),
            "text_body": _("Empty: made from the body, with the same links."),
            "layout": _("The branded frame around the body; empty: the body is the whole email."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # The format the shown source is written in: the editor the marketer typed into.
            self.source_format = self.instance.body_format
            if not self.instance.body_source and self.instance.html_body:
                self.initial["body_source"] = self.instance.html_body  # written as HTML
        else:
            self.source_format = BodyFormat.RICH
            self.initial.setdefault("body_format", BodyFormat.RICH)
            if "layout" in self.fields:
                self.initial.setdefault("layout", EmailLayout.objects.default())
        if self.is_bound and "body_source" not in self.data and "html_body" in self.data:
            # A script that posts this page as it was before body formats (html_body): its
            # body is HTML, kept in the campaign's format.
            self.data = self.data.copy()
            self.data["body_source"] = self.data["html_body"]
            self.source_format = BodyFormat.HTML
        if "body_format" in self.fields:  # absent on a started (read-only) campaign's page
            self.fields["body_format"].required = False  # not posted: the format stays
        self.instance._authoring_source_format = self.source_format
        if "body_source" in self.fields:
            self.fields["body_source"].widget = body_widget(self.source_format)
            self.fields["body_source"].label = _("Body")
        field = self.fields.get("scheduled_at")
        if field is not None:
            field.help_text = _(
                "In %(zone)s. Saving a time schedules the campaign (it starts within a minute "
                "of it); clearing it takes a scheduled campaign back to draft."
            ) % {"zone": timezone.get_current_timezone_name()}

    def clean_scheduled_at(self):
        """Refuse what campaign_schedule would: a past time, or a campaign past scheduling."""
        at = self.cleaned_data.get("scheduled_at")
        if "scheduled_at" not in self.changed_data:
            # Unchanged as shown (the widget drops microseconds): keep the stored time exactly.
            return self.instance.scheduled_at if self.instance.pk else at
        status = self.instance.status if self.instance.pk else CampaignStatus.DRAFT
        if status not in STARTABLE:
            raise forms.ValidationError(
                _("A %(status)s campaign can no longer be scheduled or unscheduled."),
                code="invalid_state",
                params={"status": status},
            )
        if at is not None and at <= timezone.now():
            raise forms.ValidationError(
                _("This time has already passed: choose a time in the future."),
                code="invalid_schedule",
            )
        return at

    def clean(self):
        cleaned = super().clean()
        source = cleaned.get("body_source") or ""
        wanted_format = (
            cleaned.get("body_format") or self.instance.body_format or self.source_format
        )
        cleaned["body_format"] = wanted_format
        self.html_body = body_html(self.source_format, source)
        self.new_source = convert_body(
            source, from_format=self.source_format, to_format=wanted_format
        )
        errors = content_errors(
            subject=cleaned.get("subject") or "",
            html_body=self.html_body,
            text_body=cleaned.get("text_body") or "",
        )
        _add_content_errors(self, errors)
        topic = cleaned.get("topic")
        segment = cleaned.get("segment")
        if topic is not None and segment is not None:
            try:
                segment_check_fits(segment=segment, topic=topic)
            except SegmentTopicMismatch as exc:
                self.add_error("segment", forms.ValidationError(str(exc), code="segment_topic"))
        if topic is None or errors:
            return cleaned
        draft = Campaign(
            topic=topic,
            subject=cleaned.get("subject") or "",
            html_body=self.html_body,
            text_body=cleaned.get("text_body") or "",
            from_email=cleaned.get("from_email") or "",
        )
        try:
            campaign_validate(campaign=draft)
        except InvalidCampaignTemplate as exc:
            raise forms.ValidationError(str(exc), code="invalid_template") from None
        except FromNotAllowed as exc:
            self.add_error("from_email", forms.ValidationError(str(exc), code="from_not_allowed"))
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        if hasattr(self, "html_body"):
            self.instance.html_body = self.html_body
            self.instance.body_source = self.new_source


def _campaign_of(translation: CampaignTranslation) -> Campaign | None:
    """The campaign a row belongs to; the inline formset sets it, even on a campaign not yet
    saved."""
    try:
        return translation.campaign
    except Campaign.DoesNotExist:
        return None


class CampaignTranslationFormSet(BaseInlineFormSet):
    """The per-language rows of the campaign page. A POST without them (a script written before
    they existed) changes none of them instead of failing on the missing management form."""

    def __init__(self, data=None, *args, **kwargs):
        prefix = kwargs.get("prefix") or self.get_default_prefix()
        if data is not None and f"{prefix}-TOTAL_FORMS" not in data:
            data = data.copy()
            data[f"{prefix}-TOTAL_FORMS"] = data[f"{prefix}-INITIAL_FORMS"] = "0"
        super().__init__(data, *args, **kwargs)


class CampaignTranslationForm(forms.ModelForm):
    """One language's subject and body, written in the campaign's body format and checked as
    the campaign's own content is."""

    class Meta:
        model = CampaignTranslation
        fields = ["language", "subject", "body_source", "text_body"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        campaign = _campaign_of(self.instance)
        self.source_format = BodyFormat.RICH
        if campaign is not None:
            self.source_format = getattr(campaign, "_authoring_source_format", campaign.body_format)
        # Rows are added in the page without reloading it: a plain text area works in all.
        self.fields["body_source"].widget = UnfoldAdminTextareaWidget(
            attrs={"rows": 8, "class": "font-mono", "data-merge-target": "1"}
        )

    def clean(self):
        cleaned = super().clean()
        campaign = _campaign_of(self.instance)
        wanted_format = campaign.body_format if campaign is not None else self.source_format
        source = cleaned.get("body_source") or ""
        self.html_body = body_html(self.source_format, source)
        self.new_source = convert_body(
            source, from_format=self.source_format, to_format=wanted_format
        )
        _add_content_errors(
            self,
            content_errors(
                subject=cleaned.get("subject") or "",
                html_body=self.html_body,
                text_body=cleaned.get("text_body") or "",
            ),
        )
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        if hasattr(self, "html_body"):
            self.instance.html_body = self.html_body
            self.instance.body_source = self.new_source
