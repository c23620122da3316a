"""The API's JSON parser: DRF's, with the nesting depth capped before anything parses.

Python's json recurses once per level, so `[[[[…` a hundred thousand deep raised RecursionError
(a 500) inside DRF's JSONParser. This parser measures the depth first, without recursing
(subscriptions/safejson.py), and answers 400 `malformed_json`, the code of every body the API
cannot read as JSON; the body size is capped by Django (DATA_UPLOAD_MAX_MEMORY_SIZE).
"""

from __future__ import annotations

import codecs

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

from ..safejson import MAX_JSON_DEPTH, exceeds_depth


class DepthCappedJSONParser(JSONParser):
    """JSON bodies nested at most MAX_JSON_DEPTH levels; deeper is 400 `malformed_json`."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError) as error:
            raise ParseError(f"JSON parse error - {error}") from None
        if exceeds_depth(text):
            raise ParseError(f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.")
        try:
            return json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from None
