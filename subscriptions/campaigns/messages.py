"""Building email messages: one name = subject/text/HTML templates under templates/emails/<name>/."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.policy import Compat32
from email.utils import make_msgid, parseaddr

import css_inline
import html2text
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template import Template, TemplateSyntaxError
from django.template.loader import get_template
from django.utils import translation
from django.utils.html import escape

from ..consent.tokens import preferences_url, unsubscribe_url
from ..mail.layouts import compiled_layout
from ..models import EmailLayout, Topic
from .link_checks import check_link_contexts, check_link_uses
from .mime_folding import REPEATED_HEADER_FOLDING
from .sandbox import RenderBudget, campaign_context, render_sandboxed, sandbox_compile

# --- marketing ----------------------------------------------------------------------------------

# The legally required footer (unsubscribe link, preference link, postal address), translated:
# templates/emails/marketing_footer/, rendered once per campaign, language and link combination.
_FOOTER_TEXT = "emails/marketing_footer/footer.txt"
_FOOTER_HTML = "emails/marketing_footer/footer.html"


class InvalidCampaignTemplate(ValueError):
    """A campaign's subject or body does not compile in the sandbox (subscriptions.campaigns.sandbox)."""

    code = "invalid_template"  # the API's error code


@dataclass(frozen=True)
class CompiledContent:
    """One language's subject and bodies, compiled."""

    subject: Template
    text: Template | None
    html: Template | None


@dataclass(frozen=True)
class CompiledCampaign:
    """A campaign's templates, compiled once and rendered for many recipients."""

    subject: Template
    text: Template | None
    html: Template | None
    # The footer names the topic in each recipient's language (Topic.name_in).
    topic: Topic
    # Per-language content (CampaignTranslation): language -> its compiled parts. A contact
    # whose language has none gets the campaign's own subject and bodies.
    translations: dict[str, CompiledContent] = field(default_factory=dict)
    # The frame around the HTML body (subscriptions.mail.layouts); None: the body is the message.
    layout: EmailLayout | None = None

    def content_for(self, language: str) -> CompiledContent:
        """The content a contact of `language` gets: theirs, else the campaign's default."""
        found = self.translations.get(language)
        if found is not None:
            return found
        return CompiledContent(self.subject, self.text, self.html)

    # The footers of each language, rendered on its first recipient with stand-ins for the two
    # per-recipient links, for each combination of (body shows the unsubscribe link, body shows
    # the preference link): language -> (text footers, HTML footers). Filled while a batch
    # renders; two threads filling the same language compute the same value.
    _footers: dict[str, tuple[dict[tuple[bool, bool], str], dict[tuple[bool, bool], str]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def footers(
        self,
        unsubscribe_url: str,
        preferences_url: str,
        *,
        text_body: str,
        html_body: str,
        language: str,
    ) -> tuple[str, str]:
        """The text and HTML footers of one recipient, with the links its rendered body lacks.

        Decided on what the body rendered, not on what its source says: a body that placed
        `{{ unsubscribe_url }}` inside `{% if %}` that came out false left its messages without
        an unsubscribe link in the body. The footers are in `language`.
        """
        rendered = self._footers.get(language)
        if rendered is None:
            rendered = self._footers[language] = _render_footers(
                self.topic.name_in(language), language
            )
        text_footers, html_footers = rendered
        html_has = (unsubscribe_url in html_body, preferences_url in html_body)
        # A text part made from the HTML carries the links the HTML body places.
        text_has = (unsubscribe_url in text_body, preferences_url in text_body)
        text = (
            text_footers[text_has]
            .replace(_UNSUBSCRIBE_SLOT, unsubscribe_url)
            .replace(_PREFERENCES_SLOT, preferences_url)
        )
        html = (
            html_footers[html_has]
            .replace(_UNSUBSCRIBE_SLOT, escape(unsubscribe_url))
            .replace(_PREFERENCES_SLOT, escape(preferences_url))
        )
        return text, html


# A footer's other values come from PostgreSQL text, which cannot hold NUL: no collision.
_UNSUBSCRIBE_SLOT = "\x00unsubscribe_url\x00"
_PREFERENCES_SLOT = "\x00preferences_url\x00"


_LINK_COMBINATIONS = [(u, p) for u in (False, True) for p in (False, True)]


def _render_footers(
    topic_name: str, language: str
) -> tuple[dict[tuple[bool, bool], str], dict[tuple[bool, bool], str]]:
    """Text and HTML footers in `language` for every combination of links the body shows."""
    ctx = {
        "topic": {"name": topic_name},
        "postal_address": settings.POSTAL_ADDRESS,
        "organization_name": settings.ORGANIZATION_NAME,
        "unsubscribe_url": _UNSUBSCRIBE_SLOT,
        "preferences_url": _PREFERENCES_SLOT,
    }
    text_template, html_template = get_template(_FOOTER_TEXT), get_template(_FOOTER_HTML)
    text, html = {}, {}
    with translation.override(language):
        for has in _LINK_COMBINATIONS:
            links = {"body_has_unsubscribe": has[0], "body_has_preferences": has[1]}
            # The templates' own leading and trailing newlines are an editor's; the blank line
            # between body and footer is the message's.
            text[has] = "\n\n" + text_template.render({**ctx, **links}).strip() + "\n"
            html[has] = html_template.render({**ctx, **links}).strip()
    return text, html


def compile_content(
    *, subject: str, text_body: str, html_body: str, language: str = ""
) -> CompiledContent:
    """Compile one language's subject and bodies in the sandbox.

    Raises InvalidCampaignTemplate naming the broken part: a syntax error, or a tag or filter
    the sandbox does not offer (`{% load %}`, `{% include %}`, `|pprint`, ...).
    """
    parts = {}
    where = f" ({language})" if language else ""
    for label, source in (
        ("subject", subject),
        ("text body", text_body),
        ("HTML body", html_body),
    ):
        try:
            parts[label] = sandbox_compile(source) if source else None
            if source:
                check_link_uses(source, allowed=label != "subject")
        except TemplateSyntaxError as exc:
            raise InvalidCampaignTemplate(
                f"The {label}{where} is not a valid template: {exc}"
            ) from exc
    if parts["text body"] is None and parts["HTML body"] is None:
        raise InvalidCampaignTemplate(f"A campaign needs a text or an HTML body{where}.")
    return CompiledContent(
        subject=parts["subject"] or sandbox_compile(""),
        text=parts["text body"],
        html=parts["HTML body"],
    )


def compile_campaign(campaign) -> CompiledCampaign:
    """Compile subject and bodies (and each language's) in the sandbox: the one check of a
    campaign's templates. Compile once per batch (or preview), render per recipient; the
    layout is compiled per language on first use and cached (subscriptions.mail.layouts).
    """
    default = compile_content(
        subject=campaign.subject, text_body=campaign.text_body, html_body=campaign.html_body
    )
    translations = {}
    if campaign.pk is not None:
        for row in campaign.translations.all():
            translations[row.language] = compile_content(
                subject=row.subject,
                text_body=row.text_body,
                html_body=row.html_body,
                language=row.language,
            )
    return CompiledCampaign(
        subject=default.subject,
        text=default.text,
        html=default.html,
        topic=campaign.topic,
        translations=translations,
        layout=campaign.layout,
    )


class FromNotAllowed(ValueError):
    """A campaign's From address is not in ALLOWED_FROM_EMAILS."""

    code = "from_not_allowed"  # the API's error code


def _allowed_from() -> tuple[set[str], set[str]]:
    addresses, domains = set(), set()
    for entry in settings.ALLOWED_FROM_EMAILS:
        entry = entry.strip().lower()
        if entry.startswith("@"):
            domains.add(entry[1:])
        elif address := parseaddr(entry)[1]:
            addresses.add(address)
    return addresses, domains


def check_from_email(from_email: str) -> None:
    """Raise FromNotAllowed unless `from_email` (an address or "Name <address>") is allowed.

    Empty means the configured MARKETING_FROM_EMAIL, which the operator chose: always allowed.
    Without this list any API key could send marketing mail as anyone@ the company's domains.
    """
    if not from_email:
        return
    address = parseaddr(from_email)[1].strip().lower()
    addresses, domains = _allowed_from()
    if address and (address in addresses or address.rpartition("@")[2] in domains):
        return
    raise FromNotAllowed(
        f"The From address {address or from_email!r} is not allowed; allowed: "
        + ", ".join(settings.ALLOWED_FROM_EMAILS)
    )


def marketing_connection():
    return get_connection(settings.MARKETING_EMAIL_BACKEND)


def list_unsubscribe_header(unsubscribe_url: str, *, mailto: bool = True) -> str:
    value = f"<{unsubscribe_url}>"
    if mailto and settings.LIST_UNSUBSCRIBE_MAILTO:
        value += f", <mailto:{settings.LIST_UNSUBSCRIBE_MAILTO}>"
    return value


class _MarketingEmail(EmailMultiAlternatives):
    def message(self, *args, **kwargs):
        message = super().message(*args, **kwargs)
        if type(message.policy) is Compat32:  # Django 5.x; 6.x builds on its own policy
            message.policy = REPEATED_HEADER_FOLDING
        return message


@dataclass(frozen=True)
class MarketingMessage:
    """One rendered marketing message, before any transport has touched it.

    The batch senders (subscriptions.campaigns.transport) serialise these straight into an ESP's batch
    call; every other road goes through `as_email()`, a Django EmailMessage with the same parts.
    """

    to: str
    from_email: str
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    tag: str
    metadata: dict[str, str]

    def as_email(self, connection=None) -> EmailMultiAlternatives:
        message = _MarketingEmail(
            subject=self.subject,
            body=self.text,
            from_email=self.from_email,
            to=[self.to],
            connection=connection,
            headers=dict(self.headers),
        )
        if self.html:
            message.attach_alternative(self.html, "text/html")
        # Anymail sends these to the ESP; its tracking webhooks hand them back. One tag only:
        # Postmark (and others) accept a single tag per message; the stream is in the metadata.
        message.tags = [self.tag]
        message.metadata = dict(self.metadata)
        return message


@dataclass(frozen=True)
class MessageLinks:
    """The two per-recipient links of a marketing message (and its List-Unsubscribe)."""

    unsubscribe_url: str
    preferences_url: str


class CampaignRenderError(ValueError):
    """A campaign compiled but could not be rendered for this recipient (a budget, bad data)."""

    code = "render_failed"


def render_marketing_message(
    *,
    campaign,
    contact,
    compiled: CompiledCampaign | None = None,
    delivery_id: int | None = None,
    to: str | None = None,
    links: MessageLinks | None = None,
    subject_prefix: str = "",
    metadata: dict[str, str] | None = None,
) -> MarketingMessage:
    """The one renderer of marketing mail: merge fields, footer, RFC 8058 and List-Id headers.

    Every message carries List-Unsubscribe (+ One-Click POST) for the campaign's topic, a
    List-Id, and a footer with the unsubscribe link, the preference link and the postal
    address (the links are left out of the footer when the body places them itself). The
    templates render in the sandbox (subscriptions.campaigns.sandbox) over plain data of `contact`.
    `links` replaces the contact's own links (previews and test sends pass inert ones: rule 9;
    no mailto then), `to` the recipient, `metadata` the ESP metadata. Raises what the template raised, e.g.
    RenderBudgetExceeded; the send loop records it as 'could not render: ...'.
    """
    compiled = compiled or compile_campaign(campaign)
    topic = campaign.topic
    # Given links are stand-ins: the mailto target would act on whoever writes to it.
    mailto = links is None
    if links is None:
        # Both links name the campaign: an unsubscribe through them counts in its statistics.
        links = MessageLinks(
            unsubscribe_url(contact, topic, campaign_id=campaign.pk),
            preferences_url(contact, campaign_id=campaign.pk),
        )
    unsub, prefs = links.unsubscribe_url, links.preferences_url
    ctx = campaign_context(
        email=contact.email,
        locale=contact.locale,
        attributes=contact.attributes,
        topic_name=topic.name,
        unsubscribe_url=unsub,
        preferences_url=prefs,
        organization_name=settings.ORGANIZATION_NAME,
        postal_address=settings.POSTAL_ADDRESS,
    )
    budget = RenderBudget()
    language = contact.locale or settings.LANGUAGE_CODE
    content = compiled.content_for(language)
    with translation.override(language):
        subject = render_sandboxed(content.subject, ctx, autoescape=False, budget=budget)
        subject = subject_prefix + " ".join(subject.split())
        html_body = ""
        if content.html is not None:
            html_body = render_sandboxed(content.html, ctx, autoescape=True, budget=budget)
        if content.text is not None:
            text = render_sandboxed(content.text, ctx, autoescape=False, budget=budget)
            check_link_contexts(html=html_body, text=text, urls=(unsub, prefs))
        else:
            check_link_contexts(html=html_body, urls=(unsub, prefs))
            text = html2text.html2text(html_body)
        text_footer, html_footer = compiled.footers(
            unsub, prefs, text_body=text, html_body=html_body, language=translation.get_language()
        )
        text = text.rstrip() + text_footer
    if content.html is None:
        html = ""
    elif compiled.layout is not None:
        # The layout's HTML is already inlined by mrml, and its <style> (media queries for
        # phones) must stay: only the body's own styles would need inlining, and no layout
        # body is a document of its own.
        html = compiled_layout(compiled.layout, language).wrap(html_body, html_footer)
    else:
        html = _append_html(html_body, html_footer)
        if "<style" in html:
            html = css_inline.inline(html)
    return MarketingMessage(
        to=to or contact.email,
        from_email=campaign.from_email or settings.MARKETING_FROM_EMAIL,
        subject=subject,
        text=text,
        html=html,
        headers={
            "List-Unsubscribe": list_unsubscribe_header(unsub, mailto=mailto),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": f"<{topic.slug}.{settings.LIST_ID_DOMAIN}>",
            "Message-ID": make_msgid(domain=settings.LIST_ID_DOMAIN),
        },
        tag=f"campaign-{campaign.pk}",
        metadata=metadata
        or {
            "stream": "marketing",
            "campaign_id": str(campaign.pk),
            "delivery_id": str(delivery_id or ""),
        },
    )


def build_marketing_message(
    *,
    campaign,
    contact,
    compiled: CompiledCampaign | None = None,
    delivery_id: int | None = None,
    to: str | None = None,
    links: MessageLinks | None = None,
    connection=None,
) -> EmailMultiAlternatives:
    """render_marketing_message() as a Django EmailMessage, with the contact's own links unless
    `links` replaces them. Previews and test sends never come here: they go through
    subscriptions.campaigns.test_sends, which always passes inert links (rule 9)."""
    return render_marketing_message(
        campaign=campaign,
        contact=contact,
        compiled=compiled,
        delivery_id=delivery_id,
        to=to,
        links=links,
    ).as_email(connection)


def _append_html(html: str, footer: str) -> str:
    lowered = html.lower()
    at = lowered.rfind("</body>")
    if at == -1:
        return html + footer
    return html[:at] + footer + html[at:]
