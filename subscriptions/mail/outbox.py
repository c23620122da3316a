"""The development mail transport: each message becomes an .eml file under var/outbox/.

The reading half below lists and opens those files for the /outbox/ pages.
"""

from __future__ import annotations

import datetime
import email.policy
import re
import uuid
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        outbox = Path(settings.OUTBOX_DIR)
        outbox.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            name = f"{timezone.now():%Y%m%d-%H%M%S-%f}-{uuid.uuid4().hex[:8]}.eml"
            (outbox / name).write_bytes(message.message().as_bytes())
        return len(email_messages)


# --- reading the outbox back (the /outbox/ pages) ----------------------------------------------

# Names the backend writes; anything else in the folder (or in a URL) is ignored.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.eml$")
# What the list shows: headers only, parsed lazily, newest first.
LIST_LIMIT = 500


@dataclass(frozen=True)
class OutboxEntry:
    name: str
    date: datetime.datetime | None
    to: str
    subject: str
    stream: str


@dataclass(frozen=True)
class OutboxMessage:
    entry: OutboxEntry
    headers: list[tuple[str, str]]
    text: str
    html: str
    unsubscribe_links: list[str]


def _stream(message: Message) -> str:
    # Rule 6 and DESIGN.md: every marketing message carries List-Unsubscribe, no transactional
    # one does, so the header tells the two streams apart.
    return "marketing" if message.get("List-Unsubscribe") else "transactional"


def _entry(name: str, message: Message) -> OutboxEntry:
    try:
        date = parsedate_to_datetime(message["Date"]) if message["Date"] else None
    except (TypeError, ValueError):
        date = None
    return OutboxEntry(
        name=name,
        date=date,
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        stream=_stream(message),
    )


def outbox_list(limit: int = LIST_LIMIT) -> tuple[list[OutboxEntry], int]:
    """The newest `limit` messages (by file name, which starts with the time) and the total."""
    outbox = Path(settings.OUTBOX_DIR)
    if not outbox.is_dir():
        return [], 0
    names = sorted((p.name for p in outbox.iterdir() if _NAME.match(p.name)), reverse=True)
    parser = BytesHeaderParser(policy=email.policy.default)
    entries = []
    for name in names[:limit]:
        try:
            with (outbox / name).open("rb") as handle:
                entries.append(_entry(name, parser.parse(handle)))
        except OSError:
            continue  # removed meanwhile
    return entries, len(names)


def outbox_read(name: str) -> OutboxMessage | None:
    """One message by file name, or None for an unknown or invalid name."""
    if not _NAME.match(name):
        return None
    path = Path(settings.OUTBOX_DIR) / name
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    text = html = ""
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        content_type = part.get_content_type()
        try:
            content = part.get_content()
        except (LookupError, ValueError):
            continue
        if content_type == "text/plain" and not text:
            text = content
        elif content_type == "text/html" and not html:
            html = content
    return OutboxMessage(
        entry=_entry(name, message),
        headers=[(key, str(value)) for key, value in message.items()],
        text=text,
        html=html,
        unsubscribe_links=re.findall(
            r"<(https?://[^>]+)>", str(message.get("List-Unsubscribe", ""))
        ),
    )
