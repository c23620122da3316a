"""Texts from outside (ESP and MTA replies, staff notes) with a person's identifiers taken out.

A bounce description such as "550 5.1.1 <ann@example.com>: mailbox unknown" quotes the address;
stored as is, it would outlive the person's erasure. `redact_identifiers` runs when such a text is written
and again at erasure (for the identifiers only known then: external id, attributes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ADDRESS_MARK = "[address]"
REDACTED_MARK = "[redacted]"
# Anything shaped like an address: no spaces, no brackets or quotes, one or more @.
_ADDRESS_LIKE = re.compile(r"""[^\s<>()\[\]{},;:"'`@]+@[^\s<>()\[\]{},;:"'`@]+""")


def redact_identifiers(text: str, *, identifiers: Iterable[str | None] = ()) -> str:
    """`text` with every address-shaped token and each of `identifiers` replaced.

    Identifiers match case-insensitively; an address's local part ("ann" of ann@example.com)
    is replaced too, as a whole word. Identifiers shorter than 3 characters are left alone (they
    would blank ordinary words).
    """
    if not text:
        return text
    text = _ADDRESS_LIKE.sub(ADDRESS_MARK, text)
    # Longest first, whole identifiers before local parts: "Ann Lee" goes as one piece even
    # when "ann" is the local part of the address.
    wanted = sorted({i for i in identifiers if i and len(i) >= 3}, key=len, reverse=True)
    for identifier in wanted:
        text = re.sub(re.escape(identifier), REDACTED_MARK, text, flags=re.IGNORECASE)
    for identifier in wanted:
        local, at, _domain = identifier.partition("@")
        if at and len(local) >= 3:
            pattern = rf"(?<![\w.+-]){re.escape(local)}(?![\w+-])"
            text = re.sub(pattern, REDACTED_MARK, text, flags=re.IGNORECASE)
    return text
