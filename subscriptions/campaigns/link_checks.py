"""Where a campaign may put a recipient's own links: placed as links, never handed elsewhere.

Each recipient's unsubscribe and preference links act for that person, so a template may only
place them verbatim (`check_link_uses`, at compile time), and the rendered message is checked to
hold them only as whole `href` values or URLs of their own (`check_link_contexts`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser

from django.template import TemplateSyntaxError
from django.template.base import Lexer, TokenType

LINK_NAMES = ("unsubscribe_url", "preferences_url")
_LINK_NAME = re.compile(r"\b(?:unsubscribe_url|preferences_url)\b")
# Around a link in text: what may touch it without making it part of a longer URL.
_BEFORE = " \t\r\n\xa0<([\"'"
_AFTER = " \t\r\n\xa0>)]\"'.,;:!?"


class LinkMisplaced(TemplateSyntaxError):
    """A campaign uses a recipient's link other than by placing it as a link of its own."""


def check_link_uses(source: str, *, allowed: bool) -> None:
    """Refuse a template that uses `unsubscribe_url` or `preferences_url` other than as a plain
    `{{ unsubscribe_url }}` (no filter, no tag, not inside `{% filter %}`); with `allowed`
    False (the subject), refuse them altogether.

    Each recipient's links act for that person (a fresh preference link even joins topics).
    A body that filtered them (`|urlencode`, `|cut`), compared them in an `{% if %}` or
    aliased them with `{% with %}` could hand them to another site, e.g. inside an image URL
    that a mailbox provider fetches on delivery. A template reaches a value only by its name,
    so refusing every other use of the names leaves the links verbatim in the output, where
    `check_link_contexts` sees each of them.
    """
    filter_depth = 0
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            command = (token.contents.split() or [""])[0]
            if command == "filter":
                filter_depth += 1
            elif command == "endfilter":
                filter_depth = max(0, filter_depth - 1)
        if token.token_type not in (TokenType.BLOCK, TokenType.VAR):
            continue
        if not _LINK_NAME.search(token.contents):
            continue
        if not allowed:
            raise LinkMisplaced("The unsubscribe and preference links cannot be used here")
        if token.token_type == TokenType.BLOCK or token.contents.strip() not in LINK_NAMES:
            raise LinkMisplaced(
                "Place the links as they are: {{ unsubscribe_url }} or {{ preferences_url }}, "
                "with no filter and in no tag"
            )
        if filter_depth:
            raise LinkMisplaced("The links cannot be placed inside {% filter %}")


def _stands_alone(text: str, url: str) -> bool:
    """Whether every occurrence of `url` in plain text is a URL of its own."""
    start = text.find(url)
    while start != -1:
        end = start + len(url)
        if start and text[start - 1] not in _BEFORE:
            return False
        if end < len(text) and text[end] not in _AFTER:
            return False
        start = text.find(url, end)
    return True


class _LinkContexts(HTMLParser):
    """Finds a link anywhere but as a whole `href` value or as text of its own."""

    def __init__(self, urls: tuple[str, ...]):
        super().__init__(convert_charrefs=True)
        self.urls = urls
        self.misplaced = False

    def _has(self, text: str | None) -> bool:
        return bool(text) and any(url in text for url in self.urls)

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if self._has(value) and not (name == "href" and value in self.urls):
                self.misplaced = True
        # <a ping> posts the href it was clicked for to another URL.
        if any(value in self.urls for _name, value in attrs) and any(n == "ping" for n, _ in attrs):
            self.misplaced = True

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        if not self._has(data):
            return
        # Style and script text is fetched or run by some clients: no link belongs there.
        if self.cdata_elem or not all(_stands_alone(data, url) for url in self.urls):
            self.misplaced = True

    def _never(self, data):
        # Comments (Outlook's conditional ones hold markup), declarations, instructions.
        if self._has(data):
            self.misplaced = True

    handle_comment = handle_decl = handle_pi = unknown_decl = _never


def check_link_contexts(*, html: str = "", text: str = "", urls: Iterable[str]) -> None:
    """Raise LinkMisplaced when a rendered body holds a recipient's link anywhere but as the
    whole `href` of a tag or as a URL of its own in text: inside another URL, an image or a
    style, the link would reach whoever owns that URL. Cheap when the links are not there."""
    urls = tuple(url for url in urls if url)
    if text and not all(_stands_alone(text, url) for url in urls):
        raise LinkMisplaced("A link is part of another URL in the text body")
    if html and any(url in html for url in urls):
        parser = _LinkContexts(urls)
        parser.feed(html)
        parser.close()
        if parser.misplaced:
            raise LinkMisplaced(
                'A link must be the whole href of a link (<a href="{{ preferences_url }}">) '
                "or text of its own"
            )


class _DeadLinks(HTMLParser):
    """Collects the links of a body that lead nowhere: no href, an empty one, `#`, `javascript:`."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.dead: list[str] = []
        self._open: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        if tag != "a":
            return
        attributes = dict(attrs)
        href = "".join((attributes.get("href") or "").split()).lower()
        dead = not href or href == "#" or href.startswith(("javascript:", "vbscript:", "data:"))
        if "href" not in attributes and ("name" in attributes or "id" in attributes):
            dead = False  # an anchor target, not a link
        self._open.append([] if dead else None)

    def handle_data(self, data):
        for text in self._open:
            if text is not None:
                text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._open:
            text = self._open.pop()
            if text is not None:
                self.dead.append(" ".join("".join(text).split()) or "(no text)")


def dead_links(html: str) -> list[str]:
    """The texts of the links in `html` that go nowhere when clicked (an empty href, `#`,
    `javascript:`): a campaign would be sent with buttons that do nothing."""
    if "<a" not in html.lower():
        return []
    parser = _DeadLinks()
    parser.feed(html)
    parser.close()
    return parser.dead
