"""JSON from strangers, read without recursion: nesting is measured before anything parses it.

Python's json module recurses once per level; a body of 100,000 `[` raises RecursionError deep
inside a parser (a 500 wherever it is not expected). `exceeds_depth` counts the brackets that
lie outside strings in one pass of two C-speed regular expressions and a flat loop, so a
too-deep body is refused before json.loads ever sees it.
"""

from __future__ import annotations

import re

# Deeper than any ESP payload or API body prefcenter reads (they nest at most 5 or 6 levels).
MAX_JSON_DEPTH = 64

# A JSON string literal; possessive quantifiers keep a long or unterminated one linear.
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def exceeds_depth(text: str, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays/objects in `text` nest deeper than `max_depth` (strings are skipped).

    For text that is not JSON the answer is a safe over-estimate: brackets of an unterminated
    string count too, and such text fails to parse anyway.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return False  # too few brackets to nest that deep: the common case, no scan needed
    depth = 0
    for match in _BRACKETS.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False
