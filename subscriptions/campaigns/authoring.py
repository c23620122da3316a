"""Writing a campaign: its body in the chosen format, the merge fields it may use, the checks
on save, and moving it through its life cycle as an integration asks.

The transitions themselves (and their guards) are the life-cycle services; this module creates
the draft, derives the HTML that sending renders from what the marketer wrote (rich text,
Markdown or raw HTML), and names each transition the way the HTTP API does.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import html2text
from django.db import connection, transaction
from django.template import TemplateSyntaxError
from django.template.base import FilterExpression, Variable
from django.template.defaulttags import ForNode, WithNode
from markdown_it import MarkdownIt

from ..models import Campaign, Contact, EmailLayout, Topic
from ..models.choices import BodyFormat
from .lifecycle import (
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_schedule,
    campaign_start,
    campaign_unschedule,
    campaign_validate,
)
from .link_checks import check_link_uses, dead_links
from .sandbox import sandbox_compile

# The API's verb for each life-cycle service.
TRANSITIONS: dict[str, Callable[..., Campaign]] = {
    "send": campaign_start,
    "pause": campaign_pause,
    "resume": campaign_resume,
    "cancel": campaign_cancel,
    "unschedule": campaign_unschedule,
}


def campaign_create(
    *,
    name: str,
    topic: Topic,
    subject: str,
    html_body: str,
    text_body: str,
    from_email: str = "",
    scheduled_at: datetime.datetime | None = None,
) -> Campaign:
    """A draft campaign, or a scheduled one with `scheduled_at`. Refuses a body that won't
    compile (InvalidCampaignTemplate) and a sender that is not allowed (FromNotAllowed)."""
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name,
            topic=topic,
            subject=subject,
            html_body=html_body,
            text_body=text_body,
            from_email=from_email,
            # The branded frame every new campaign starts with, whichever door created it.
            layout=EmailLayout.objects.default(),
        )
        if scheduled_at is not None:
            campaign_schedule(campaign=campaign, at=scheduled_at)
        else:
            campaign_validate(campaign=campaign)
    return campaign


def campaign_change(*, campaign: Campaign, action: str) -> Campaign:
    """send / pause / resume / cancel / unschedule through the life-cycle service of that name (TRANSITIONS);
    CampaignStateError when the campaign's status does not allow it."""
    return TRANSITIONS[action](campaign=campaign)


# --- body formats -------------------------------------------------------------------------------

# CommonMark with raw HTML allowed (experts mix both), plus tables and strikethrough.
_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
# Template syntax inside Markdown: `[Stop]({{ unsubscribe_url }})` must reach the HTML as
# written, not percent-encoded as a URL, and `{% if a == "b" %}` with its quotes intact.
_TEMPLATE_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def markdown_to_html(source: str) -> str:
    """Markdown (CommonMark, raw HTML allowed) as HTML, its template tags left as written."""
    tags: list[str] = []

    def hold(match: re.Match) -> str:
        tags.append(match.group(0))
        return f"PrefcenterTag{len(tags) - 1}X"

    html = _MARKDOWN.render(_TEMPLATE_TAG.sub(hold, source))
    for index in range(len(tags) - 1, -1, -1):
        html = html.replace(f"PrefcenterTag{index}X", tags[index])
    return html


def body_html(body_format: str, source: str) -> str:
    """The HTML body sending renders, derived from what the marketer wrote."""
    if body_format == BodyFormat.MARKDOWN:
        return markdown_to_html(source)
    # The editor's output and an expert's HTML are HTML already.
    return source


def convert_body(source: str, *, from_format: str, to_format: str) -> str:
    """`source` rewritten for another format's editor, so switching formats keeps the content:
    Markdown becomes HTML for the rich-text and HTML editors; HTML becomes Markdown."""
    if from_format == to_format or not source.strip():
        return source
    if from_format == BodyFormat.MARKDOWN:
        return markdown_to_html(source)
    if to_format == BodyFormat.MARKDOWN:
        converter = html2text.HTML2Text()
        converter.body_width = 0  # no hard wrapping: it would split merge fields
        return converter.handle(source).strip() + "\n"
    return source


# --- merge fields --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeField:
    """A field a campaign body may use, as the picker shows it."""

    expression: str  # what is inserted, e.g. "{{ contact.email }}"
    label: str


FIXED_FIELDS = (
    MergeField("{{ contact.email }}", "Email address"),
    MergeField("{{ contact.locale }}", "Language"),
    MergeField("{{ topic.name }}", "Topic name"),
    MergeField("{{ unsubscribe_url }}", "Unsubscribe link"),
    MergeField("{{ preferences_url }}", "Preference page link"),
)
# Names a template may read besides the contact's fields (DESIGN: "Campaign bodies see plain
# data only"; subscriptions.campaigns.sandbox.campaign_context).
_ROOTS = {"unsubscribe_url", "preferences_url", "organization_name", "postal_address", "forloop"}
_CONTACT_FIELDS = {"email", "locale", "attributes"}
# How many of the newest contacts the picker reads attribute names from: one index scan,
# bounded, whatever the size of the audience.
ATTRIBUTE_SAMPLE = 50_000
MAX_ATTRIBUTES = 100


def attribute_names() -> list[str]:
    """The attribute names present on contacts (the newest ATTRIBUTE_SAMPLE), sorted: one query."""
    table = Contact._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""SELECT DISTINCT key FROM (
                        SELECT attributes FROM {table}
                        WHERE jsonb_typeof(attributes) = 'object' AND attributes <> '{{}}'
                        ORDER BY id DESC LIMIT %s
                    ) AS recent, jsonb_object_keys(recent.attributes) AS key
                    ORDER BY key LIMIT %s""",  # noqa: S608 (a model's table name, no input)
                [ATTRIBUTE_SAMPLE, MAX_ATTRIBUTES],
            )
            return [row[0] for row in cursor.fetchall()]
    # SQLite (make run's embedded default): the same sample read in Python.
    names: set[str] = set()
    for attributes in Contact.objects.order_by("-id").values_list("attributes", flat=True)[
        :ATTRIBUTE_SAMPLE
    ]:
        if isinstance(attributes, dict):
            names.update(attributes)
    return sorted(names)[:MAX_ATTRIBUTES]


def merge_fields() -> list[MergeField]:
    """Every field the picker offers: the fixed ones and one per attribute present."""
    fields = list(FIXED_FIELDS)
    for name in attribute_names():
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):  # reachable by a template lookup
            fields.append(MergeField(f"{{{{ contact.attributes.{name} }}}}", name))
    return fields


def _expressions(node) -> Iterable[FilterExpression]:
    """The filter expressions a compiled node reads (its variable, condition, loop, ...)."""
    for value in vars(node).values():
        if isinstance(value, FilterExpression):
            yield value
        elif isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, FilterExpression):
                    yield item
                elif isinstance(item, tuple) and item and not isinstance(item[0], str):
                    yield from _condition_expressions(item[0])  # IfNode's (condition, nodelist)
        elif isinstance(value, dict):
            yield from (v for v in value.values() if isinstance(v, FilterExpression))


def _condition_expressions(condition) -> Iterable[FilterExpression]:
    if condition is None:
        return
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):
        yield value
    for side in ("first", "second"):
        yield from _condition_expressions(getattr(condition, side, None))


def _lookups(expression: FilterExpression) -> Iterable[tuple[str, ...]]:
    if isinstance(expression.var, Variable) and expression.var.lookups:
        yield expression.var.lookups
    for _func, args in expression.filters:
        for is_lookup, arg in args:
            if is_lookup and isinstance(arg, Variable) and arg.lookups:
                yield arg.lookups


def unknown_merge_fields(source: str) -> list[str]:
    """The variables `source` reads that campaign bodies do not offer (a typo such as
    `{{ contact.firstname }}` renders as nothing in every message). Raises TemplateSyntaxError
    when `source` does not compile. Names bound by `{% for %}` and `{% with %}` are allowed."""
    template = sandbox_compile(source)
    nodes = template.nodelist.get_nodes_by_type(object)
    bound = set(_ROOTS)
    for node in nodes:
        if isinstance(node, ForNode):
            bound.update(node.loopvars)
        elif isinstance(node, WithNode):
            bound.update(node.extra_context)
    unknown = []
    for node in nodes:
        for expression in _expressions(node):
            for lookups in _lookups(expression):
                name = ".".join(lookups)
                if _offered(lookups, bound) or name in unknown:
                    continue
                unknown.append(name)
    return unknown


def _offered(lookups: tuple[str, ...], bound: set[str]) -> bool:
    root = lookups[0]
    if root in bound:
        return True
    if root == "contact":
        if len(lookups) == 1 or lookups[1] not in _CONTACT_FIELDS:
            return False
        return lookups[1] != "attributes" or len(lookups) >= 3
    if root == "topic":
        return lookups[1:2] == ("name",)
    return False


# --- checks on save ------------------------------------------------------------------------------


def content_errors(*, subject: str, html_body: str, text_body: str) -> dict[str, list[str]]:
    """What is wrong with a campaign's (or one language's) content, by part ("subject",
    "html_body", "text_body"): template syntax, merge fields campaign bodies do not offer,
    links that go nowhere. Empty when it may be saved. The admin shows each at its field."""
    errors: dict[str, list[str]] = {}
    for part, label, source, links_allowed in (
        ("subject", "subject", subject, False),
        ("html_body", "body", html_body, True),
        ("text_body", "text body", text_body, True),
    ):
        if not source:
            continue
        found = errors.setdefault(part, [])
        try:
            check_link_uses(source, allowed=links_allowed)
            unknown = unknown_merge_fields(source)
        except TemplateSyntaxError as exc:
            found.append(f"The {label} is not a valid template: {exc}")
            continue
        if unknown:
            found.append(
                "Unknown merge field"
                + ("s" if len(unknown) > 1 else "")
                + ": "
                + ", ".join("{{ " + name + " }}" for name in unknown)
                + ". Use the fields listed beside the editor "
                "(an attribute is {{ contact.attributes.<name> }})."
            )
        if part == "html_body" and (dead := dead_links(source)):
            found.append(
                "These links go nowhere (empty, # or javascript:): "
                + ", ".join(repr(text) for text in dead[:5])
                + ". Give each a full https:// address or a merge field link."
            )
        if not found:
            del errors[part]
    if not html_body.strip() and not text_body.strip():
        errors.setdefault("html_body", []).append("Write a body: a campaign needs one.")
    return errors
