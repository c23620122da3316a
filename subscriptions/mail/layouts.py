"""Email layouts: MJML compiled with mrml once per layout version and language, then filled per
message by string joins (no template render, no MJML) around the rendered body and footer.

Sending runs thousands of messages a second: the only per-recipient work a layout adds is
`CompiledLayout.wrap`, three concatenations.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import mrml
from django.conf import settings
from django.template import Context, Template, TemplateSyntaxError
from django.template.loader import get_template
from django.utils import translation

from ..models import EmailLayout

DEFAULT_TEMPLATE = "emails/layouts/default.mjml"
# Plain words: they pass through MJML and mrml untouched and never occur in a real layout.
_BODY_SLOT = "PrefcenterBodySlot7f3a"
_FOOTER_SLOT = "PrefcenterFooterSlot7f3a"
DEFAULT_BRAND_COLOR = "#2563eb"


class InvalidLayout(ValueError):
    """A layout's MJML does not compile, or does not place the body and the footer once each."""


@dataclass(frozen=True)
class CompiledLayout:
    """A layout's HTML cut at its two slots."""

    before_body: str
    between: str
    after_footer: str

    def wrap(self, body_html: str, footer_html: str) -> str:
        return self.before_body + body_html + self.between + footer_html + self.after_footer


@dataclass(frozen=True)
class Branding:
    """What a layout shows of the organisation; hashable, so it is part of the cache key."""

    organization_name: str
    logo_url: str
    brand_color: str
    background_color: str
    text_color: str
    mjml: str
    layout_id: int | None = None


def branding(layout: EmailLayout) -> Branding:
    """The layout's brand, its empty fields filled from the console's settings (which the
    console's own configuration may not define yet: hence the defaults)."""
    return Branding(
        organization_name=settings.ORGANIZATION_NAME,
        logo_url=layout.logo_url or getattr(settings, "CONSOLE_LOGO_URL", ""),
        brand_color=layout.brand_color or getattr(settings, "BRAND_COLOR", DEFAULT_BRAND_COLOR),
        background_color=layout.background_color,
        text_color=layout.text_color,
        mjml=layout.mjml,
        layout_id=layout.pk,
    )


def compiled_layout(layout: EmailLayout, language: str) -> CompiledLayout:
    """The layout compiled for `language` (its chrome translated), from the per-process cache:
    the same layout, brand and language compile once, whatever the campaign or batch."""
    return _compile(branding(layout), language)


# mrml links Google Fonts for the font names it knows (Roboto, Open Sans, ...): a message would
# then tell Google every time someone opens it, and the console's preview policy refuses the
# stylesheet. Our layouts name system fonts first; no font is ever fetched.
NO_REMOTE_FONTS = mrml.RenderOptions(fonts={})


@functools.lru_cache(maxsize=128)
def _compile(brand: Branding, language: str) -> CompiledLayout:
    source = _mjml_source(brand, language)
    try:
        html = mrml.to_html(source, render_options=NO_REMOTE_FONTS).content
    except Exception as exc:  # mrml raises its own parser errors; all mean the same here
        raise InvalidLayout(f"The layout's MJML does not compile: {exc}") from exc
    if html.count(_BODY_SLOT) != 1 or html.count(_FOOTER_SLOT) != 1:
        raise InvalidLayout("The layout must place {{ body }} and {{ footer }} once each.")
    before_body, rest = html.split(_BODY_SLOT)
    between, after_footer = rest.split(_FOOTER_SLOT)
    return CompiledLayout(before_body, between, after_footer)


def _mjml_source(brand: Branding, language: str) -> str:
    context = {
        "language": language,
        "organization_name": brand.organization_name,
        "logo_url": brand.logo_url,
        "brand_color": brand.brand_color,
        "background_color": brand.background_color,
        "text_color": brand.text_color,
        "body": _BODY_SLOT,
        "footer": _FOOTER_SLOT,
    }
    with translation.override(language):
        if not brand.mjml:
            return get_template(DEFAULT_TEMPLATE).render(context)
        # Staff-written MJML sees plain values only: the sandboxed engine of campaign bodies
        # lives above this package, so it is rendered with no tag library beyond the builtins'
        # variables, and refuses {% load %} (layouts are edited by staff with that permission).
        if "{%" in brand.mjml:
            raise InvalidLayout("A layout's MJML may use {{ variables }} but no {% tags %}.")
        try:
            return Template(brand.mjml).render(Context(context))
        except TemplateSyntaxError as exc:
            raise InvalidLayout(f"The layout's MJML is not a valid template: {exc}") from exc


def check_layout(layout: EmailLayout) -> None:
    """Raise InvalidLayout unless `layout` compiles in every language the pages speak."""
    for code, _name in settings.LANGUAGES:
        _compile(branding(layout), code)
