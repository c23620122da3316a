"""Secrets kept out of logs: the tokens in link paths and the addresses in query strings.

Unsubscribe and preference links never expire, so an access log line with one is a working key
to someone's consent; `?email=` names a person. Both are replaced with a placeholder in
gunicorn's access log (RedactingLogger, set by prefcenter/gunicorn_conf.py, which `make run`
uses too) and in the app's own log lines (RedactFilter, e.g. django.request's "Not Found: …").
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger

PLACEHOLDER = "[redacted]"

# Everything after these prefixes is a token (or names one): /unsubscribe/<token>/,
# /preferences/<token>/, /confirm/<token>/, /privacy/<action>/<token>/. The lost-link form
# /preferences/ itself has nothing after it and stays as it is.
_TOKEN_PATH = re.compile(
    r"(?P<prefix>/(?:unsubscribe|preferences|confirm|privacy)/)(?P<rest>[^?#\s\"']+)"
)
# Query values that name a person or carry a key: email=, to=, *_email=, token=.
_SECRET_PARAM = re.compile(
    r"(?P<key>(?:^|(?<=[?&;]))(?:[\w.-]*email|to|token)=)[^&;#\s\"']*", re.IGNORECASE
)


def _path(match: re.Match) -> str:
    trailing = "/" if match["rest"].endswith("/") else ""
    return f"{match['prefix']}{PLACEHOLDER}{trailing}"


def redact_link_secrets(text: str) -> str:
    """`text` with link tokens and secret query values replaced by PLACEHOLDER."""
    if not text or not isinstance(text, str):
        return text
    return _SECRET_PARAM.sub(rf"\g<key>{PLACEHOLDER}", _TOKEN_PATH.sub(_path, text))


class RedactingLogger(Logger):
    """gunicorn's logger, with every access-log atom (request line, path, query, referer,
    headers) redacted before it is formatted."""

    def atoms(self, resp, req, environ, request_time):
        return {
            key: redact_link_secrets(value) if isinstance(value, str) else value
            for key, value in super().atoms(resp, req, environ, request_time).items()
        }


class RedactFilter(logging.Filter):
    """A logging filter for the app's handlers: the formatted message, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_link_secrets(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
