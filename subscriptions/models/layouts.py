"""Email layouts (the branded frame around a campaign's body) and per-language campaign content."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..locales import validate_locale

_COLOR = RegexValidator(r"^#[0-9a-fA-F]{6}\Z", _("Enter a colour as #rrggbb, e.g. #2563eb."))


class EmailLayoutQuerySet(models.QuerySet):
    def default(self) -> EmailLayout | None:
        """The layout new campaigns start with (the one marked default, else the oldest)."""
        return self.order_by("-is_default", "pk").first()


class EmailLayout(models.Model):
    """A reusable, brandable frame written in MJML: logo, colours, the body slot and the footer.

    Compiled to HTML with mrml once per layout version and language (subscriptions.mail.layouts),
    never per recipient. Empty brand fields fall back to the console's settings
    (ORGANIZATION_NAME, BRAND_COLOR, CONSOLE_LOGO_URL).
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    is_default = models.BooleanField(
        _("default"), default=False, help_text=_("New campaigns start with this layout.")
    )
    logo_url = models.URLField(
        _("logo URL"), blank=True, help_text=_("An https image; empty: the console's logo.")
    )
    brand_color = models.CharField(
        _("brand colour"),
        max_length=7,
        blank=True,
        validators=[_COLOR],
        help_text=_("Buttons, links and the top bar; empty: the console's brand colour."),
    )
    background_color = models.CharField(
        _("background colour"), max_length=7, default="#f5f6f8", validators=[_COLOR]
    )
    text_color = models.CharField(
        _("text colour"), max_length=7, default="#1d2433", validators=[_COLOR]
    )
    mjml = models.TextField(
        _("MJML (experts)"),
        blank=True,
        help_text=_(
            "Empty: the built-in responsive layout. Otherwise a whole <mjml> document that places "
            "{{ body }} and {{ footer }} (each once) and may use {{ logo_url }}, {{ brand_color }}, "
            "{{ background_color }}, {{ text_color }} and {{ organization_name }}."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = EmailLayoutQuerySet.as_manager()

    class Meta:
        verbose_name = _("email layout")
        verbose_name_plural = _("email layouts")
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_layout",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self.is_default:
            # One default at a time: marking this one takes the mark from the other.
            EmailLayout.objects.filter(is_default=True).exclude(pk=self.pk).update(is_default=False)
        super().save(*args, **kwargs)


class CampaignTranslation(models.Model):
    """A campaign's subject and body in one more language: contacts of that language get it,
    everyone else the campaign's own (default) content."""

    campaign = models.ForeignKey(
        "subscriptions.Campaign", on_delete=models.CASCADE, related_name="translations"
    )
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, validators=[validate_locale]
    )
    subject = models.CharField(_("subject"), max_length=300)
    body_source = models.TextField(
        _("body"), blank=True, help_text=_("In the campaign's body format.")
    )
    html_body = models.TextField(_("HTML body"), blank=True, editable=False)
    text_body = models.TextField(
        _("text body"), blank=True, help_text=_("Empty: made from the HTML body.")
    )

    class Meta:
        verbose_name = _("translation")
        verbose_name_plural = _("translations")
        ordering = ["language"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "language"], name="one_translation_per_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} ({self.language})"
