"""The sandbox campaign templates render in: allow-listed tags and filters, plain data, budgets.

Campaign subjects and bodies are written by marketers and by API keys, so they are untrusted
code. They never see the project's template engine (its `load`, `include`, `url`, `cache`,
custom tag libraries, or ORM objects), only:

- a dedicated `Engine` whose only library is SANDBOX_LIBRARY below (no `load`, so no other
  library can be reached), with no template loaders (no `include` / `extends` either);
- a context of plain, read-only data (`campaign_context`): the recipient's own email, locale
  and attributes, the topic's name, their two links. Dicts become read-only mappings and lists
  tuples, so a template cannot call `.clear` or `.pop` on them;
- a per-message budget (`RenderBudget`): loop iterations, output characters and wall time,
  charged inside for-loops and by every leaf node, so nested loops over a big attribute or a
  padding filter stop within milliseconds with RenderBudgetExceeded instead of holding a worker.

Where a template may place the recipient's own links is checked by .link_checks.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping
from types import MappingProxyType

from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import Node, NodeList, TextNode, VariableNode
from django.template.defaulttags import ForNode

# Per message (subject, text and HTML bodies together).
MAX_LOOP_ITERATIONS = 10_000
MAX_OUTPUT_CHARS = 1_000_000
MAX_RENDER_SECONDS = 1.0
# Width accepted by the padding filters (center, ljust, rjust) and digits by floatformat.
MAX_PAD_WIDTH = 1_000
MAX_FLOAT_DIGITS = 20
# Tags nested inside one another: Django parses and renders them recursively, so a body of a
# few thousand nested `{% if %}` blew the interpreter's stack (a RecursionError, a 500).
MAX_NESTING = 100

TAGS = (
    "autoescape",
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "now",
    "resetcycle",
    "spaceless",
    "templatetag",
    "verbatim",
    "widthratio",
    "with",
)
# Left out on purpose: load, include, extends, block, url, cache, csrf_token, debug, lorem
# (an amplifier), regroup, querystring; and the filters pprint and json_script (object
# reprs), stringformat (`%9999999s` pads without a cap).
FILTERS = (
    "add",
    "addslashes",
    "capfirst",
    "cut",
    "date",
    "default",
    "default_if_none",
    "dictsort",
    "dictsortreversed",
    "divisibleby",
    "escape",
    "escapejs",
    "escapeseq",
    "filesizeformat",
    "first",
    "force_escape",
    "get_digit",
    "iriencode",
    "join",
    "last",
    "length",
    "linebreaks",
    "linebreaksbr",
    "linenumbers",
    "lower",
    "make_list",
    "phone2numeric",
    "pluralize",
    "random",
    "safe",
    "safeseq",
    "slice",
    "slugify",
    "striptags",
    "time",
    "timesince",
    "timeuntil",
    "title",
    "truncatechars",
    "truncatechars_html",
    "truncatewords",
    "truncatewords_html",
    "unordered_list",
    "upper",
    "urlencode",
    "urlize",
    "urlizetrunc",
    "wordcount",
    "wordwrap",
    "yesno",
)
PADDING_FILTERS = ("center", "ljust", "rjust")


class RenderBudgetExceeded(Exception):
    """A campaign template used more loop iterations, output or time than one message may."""


class RenderBudget:
    """What one message's rendering may still spend; charged by the instrumented nodes."""

    __slots__ = ("deadline", "iterations", "output")

    def __init__(self) -> None:
        self.iterations = 0
        self.output = 0
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS

    def charge_output(self, size: int) -> None:
        self.output += size
        if self.output > MAX_OUTPUT_CHARS:
            raise RenderBudgetExceeded(
                f"the message would be longer than {MAX_OUTPUT_CHARS} characters"
            )

    def charge_iteration(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_LOOP_ITERATIONS:
            raise RenderBudgetExceeded(
                f"the template loops more than {MAX_LOOP_ITERATIONS} times per message"
            )
        self.check_clock()

    def check_clock(self) -> None:
        # Only loops take time that grows with the data; the clock is read at each pass.
        if time.monotonic() > self.deadline:
            raise RenderBudgetExceeded(
                f"rendering took longer than {MAX_RENDER_SECONDS} s per message"
            )


def _budget(context) -> RenderBudget:
    budget = getattr(context, "sandbox_budget", None)
    if budget is None:  # rendered outside render_sandboxed(): give it a budget of its own
        budget = context.sandbox_budget = RenderBudget()
    return budget


# --- the library: allow-listed tags and filters, size-checked ------------------------------------


def _checked(func):
    """A filter whose string or sequence result counts against MAX_OUTPUT_CHARS before
    anything uses it.

    Sequences too: `{% with b=a|add:a %}` over a `make_list` doubles a list at each level
    without rendering a character, and two dozen levels held gigabytes.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        result = func(*args, **kwargs)
        if isinstance(result, str | list | tuple) and len(result) > MAX_OUTPUT_CHARS:
            raise RenderBudgetExceeded(f"the filter {func.__name__} made a value too long")
        return result

    return wrapper


def _padding(func):
    @functools.wraps(func)
    def wrapper(value, arg):
        try:
            width = int(arg)
        except (TypeError, ValueError):
            return value
        if width > MAX_PAD_WIDTH:
            raise RenderBudgetExceeded(f"{func.__name__} is capped at {MAX_PAD_WIDTH}")
        return func(value, width)

    return wrapper


def _join(value, arg, autoescape=True):
    # Checked before joining: a long separator between many items is built all at once.
    try:
        size = sum(len(str(item)) for item in value) + len(str(arg)) * len(value)
    except TypeError:
        return value
    if size > MAX_OUTPUT_CHARS:
        raise RenderBudgetExceeded("join would make a string too long")
    return defaultfilters.join(value, arg, autoescape=autoescape)


def _floatformat(value, arg=-1):
    # Decimal arithmetic on `1e999999` or with 10^6 digits of precision is the amplifier here.
    try:
        digits = int(arg.removesuffix("g").removesuffix("u") if isinstance(arg, str) else arg)
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return ""
    if abs(digits) > MAX_FLOAT_DIGITS or not math.isfinite(number) or abs(number) > 1e18:
        return ""
    return defaultfilters.floatformat(value, arg)


def _build_library() -> Library:
    library = Library()
    for name in TAGS:
        library.tags[name] = defaulttags.register.tags[name]
    for name in FILTERS:
        func = defaultfilters.register.filters[name]
        library.filter(name, _checked(func), **_flags(func))
    for name in PADDING_FILTERS:
        func = defaultfilters.register.filters[name]
        library.filter(name, _checked(_padding(func)), **_flags(func))
    library.filter("join", _checked(_join), **_flags(defaultfilters.join))
    library.filter("floatformat", _floatformat, **_flags(defaultfilters.floatformat))
    return library


def _flags(func) -> dict:
    return {
        "is_safe": getattr(func, "is_safe", False),
        "needs_autoescape": getattr(func, "needs_autoescape", False),
        "expects_localtime": getattr(func, "expects_localtime", False),
    }


SANDBOX_LIBRARY = _build_library()


class _SandboxEngine(Engine):
    # Engine always adds its default builtins (every tag and filter, `load` among them).
    default_builtins: list[str] = []


SANDBOX_ENGINE = _SandboxEngine(loaders=[], libraries={}, builtins=[], debug=False)
SANDBOX_ENGINE.template_builtins = [SANDBOX_LIBRARY]


# --- instrumenting compiled templates ------------------------------------------------------------


class _LoopTick(Node):
    """First node of every for-loop body: charges one iteration per pass."""

    def render(self, context) -> str:
        _budget(context).charge_iteration()
        return ""

    def render_annotated(self, context) -> str:
        return self.render(context)


@functools.cache
def _clocked(cls: type[Node]) -> type[Node]:
    """A subclass of a block node class (with, if, filter, ...) that reads the clock first.

    Filters inside `{% with %}` or `{% if %}` can do much work and render nothing, outside
    any loop; without this the clock was read only at the end of the message.
    """

    def render_annotated(self, context):
        _budget(context).check_clock()
        return cls.render_annotated(self, context)

    return type(f"Clocked{cls.__name__}", (cls,), {"render_annotated": render_annotated})


@functools.cache
def _counted(cls: type[Node]) -> type[Node]:
    """A subclass of a leaf node class that charges the budget with what it renders."""

    def render_annotated(self, context):
        output = cls.render_annotated(self, context)
        _budget(context).charge_output(len(output))
        return output

    return type(f"Counted{cls.__name__}", (cls,), {"render_annotated": render_annotated})


def _instrument(nodelist: NodeList, in_loop: bool = False, depth: int = 0) -> None:
    """Count what leaf nodes render, add a tick to every loop, read the clock in every block,
    refuse unclosed `{{` and nesting deeper than MAX_NESTING.

    Text outside any loop is bounded by the template's own length and is not counted; every
    other leaf is (a variable may hold a large attribute, a loop repeats whatever it holds).
    """
    if depth > MAX_NESTING:
        raise TemplateSyntaxError(f"Tags are nested more than {MAX_NESTING} deep")
    for node in list(nodelist):
        children = [getattr(node, name, None) for name in node.child_nodelists]
        children = [child for child in children if child]
        if isinstance(node, TextNode) and ("{{" in node.s or "{%" in node.s):
            # Django's lexer leaves an unclosed `{{ name` as text; a marketer meant a field.
            # A literal `{{` is still possible: {% templatetag openvariable %} or verbatim.
            raise TemplateSyntaxError(f"Unclosed tag near {node.s[node.s.find('{') :][:30]!r}")
        if isinstance(node, ForNode):
            node.nodelist_loop.insert(0, _LoopTick())
        if isinstance(node, TextNode):
            if in_loop:
                node.__class__ = _counted(TextNode)
        elif isinstance(node, VariableNode) or not children:
            node.__class__ = _counted(type(node))
        else:
            node.__class__ = _clocked(type(node))
        for child in children:
            _instrument(child, in_loop or isinstance(node, ForNode), depth + 1)


def sandbox_compile(source: str) -> Template:
    """`source` compiled in the sandbox. Raises TemplateSyntaxError (a disallowed tag or filter
    is one: `Invalid block tag 'load'`, `Invalid filter: 'pprint'`)."""
    try:
        template = Template(source, engine=SANDBOX_ENGINE)
    except RecursionError:
        # Django's parser recurses once per nested tag; MAX_NESTING is checked below, after
        # parsing, so a body nested thousands deep is refused here instead of as a 500.
        raise TemplateSyntaxError(f"Tags are nested more than {MAX_NESTING} deep") from None
    _instrument(template.nodelist)
    return template


def render_sandboxed(
    template: Template, data: dict, *, autoescape: bool, budget: RenderBudget
) -> str:
    """Render a sandbox template with plain data, charging `budget` (shared by a message's
    parts). Raises RenderBudgetExceeded past a bound, or whatever the template raised."""
    context = Context(data, autoescape=autoescape)
    context.sandbox_budget = budget
    output = template.render(context)
    budget.check_clock()
    return output


def _freeze(value, depth: int = 0):
    """JSON data as read-only structures: mappings stay mappings, lists become tuples."""
    if depth > 32:
        return None
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _freeze(v, depth + 1) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v, depth + 1) for v in value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def campaign_context(
    *,
    email: str,
    locale: str,
    attributes: Mapping | None,
    topic_name: str,
    unsubscribe_url: str,
    preferences_url: str,
    organization_name: str,
    postal_address: str,
) -> dict:
    """Everything a campaign template may see, as plain data (DESIGN: "Campaign bodies see
    plain data only"). Never pass a model instance here."""
    return {
        "contact": MappingProxyType(
            {"email": email, "locale": locale, "attributes": _freeze(attributes or {})}
        ),
        "topic": MappingProxyType({"name": topic_name}),
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
        "organization_name": organization_name,
        "postal_address": postal_address,
    }
