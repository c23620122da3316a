"""Handing rendered marketing messages to the mail transport, many per call where it can.

Anymail sends one EmailMessage per ESP call; its own batch feature shares a single body among
all recipients, while every marketing message has a body of its own (merge fields, signed
unsubscribe links). Postmark's `/email/batch` takes up to 500 complete, distinct messages in
one request, so `PostmarkBatch` serialises MarketingMessages straight into that call. The
fields all messages share (From, MessageStream, tracking, send defaults) come from Anymail's own
payload for the first message, so Anymail settings behave as with its backend; Anymail's
pre_send/post_send signals are not sent for batched messages.

Every other backend (SMTP, Anymail's single-message ESPs) goes through `Parallel`: one message
per send call on each of SEND_CONNECTIONS connections at once, so the round trips of one
message overlap the rendering and sending of the others.

`send(messages)` returns one Outcome per message, in order, never raising for the transport's
answers:

- sent: accepted, with the ESP's message id;
- refused: the transport said no to this message; it did not leave;
- retry: known not to have been accepted, and the transport asks to be called later
  (connection refused, HTTP 429 / 500 / 503, SMTP 4xx): the claim goes back to pending;
- unknown: the call went out but its answer was lost (a timeout, a dropped connection, an
  unreadable answer): the message may have left, so it is never resent (rule 4).

The Postmark batch call is the largest of the sending speed-ups; bench/README.md has the
figures (msg/s through the batch API and through SMTP).
"""

from __future__ import annotations

import contextlib
import json
import smtplib
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
from anymail.backends.postmark import EmailBackend as AnymailPostmarkBackend
from anymail.exceptions import AnymailAPIError
from celery.exceptions import SoftTimeLimitExceeded
from django.core.mail import get_connection
from django.utils.module_loading import import_string
from urllib3.exceptions import NewConnectionError

from ..models.choices import SendOutcome
from .messages import MarketingMessage

# HTTP answers that say the ESP took nothing and asks to be called again later.
RETRY_LATER_STATUSES = {429, 500, 503}

# Postmark's documented limit of messages per /email/batch request.
POSTMARK_BATCH_LIMIT = 500


@dataclass(frozen=True)
class Outcome:
    state: SendOutcome
    esp_id: str = ""
    error: str = ""


class TransportUnavailable(Exception):
    """The transport cannot be opened now (connection refused, unknown host, ...)."""


def _connect_failed(error: BaseException) -> bool:
    """A requests error raised before the request reached the server."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError):
        reason = getattr(error.args[0], "reason", None) if error.args else None
        return isinstance(reason, NewConnectionError | ConnectionRefusedError)
    return False


def classify(error: BaseException) -> str:
    """RETRY, UNKNOWN or REFUSED (SendOutcome) for an error raised by a send call."""
    status = getattr(error, "status_code", None)
    if isinstance(error, AnymailAPIError) and status is not None:
        # The ESP answered: a refusal, unless it asked to be called again later.
        return SendOutcome.RETRY if status in RETRY_LATER_STATUSES else SendOutcome.REFUSED
    cause = error.__cause__ or error
    if isinstance(cause, ConnectionRefusedError | socket.gaierror | smtplib.SMTPConnectError):
        return SendOutcome.RETRY
    if isinstance(cause, smtplib.SMTPResponseException) and 400 <= cause.smtp_code < 500:
        return SendOutcome.RETRY
    if isinstance(cause, smtplib.SMTPRecipientsRefused) and all(
        400 <= code < 500 for code, _ in cause.recipients.values()
    ):
        return SendOutcome.RETRY
    if isinstance(cause, requests.RequestException):
        return SendOutcome.RETRY if _connect_failed(cause) else SendOutcome.UNKNOWN
    if isinstance(cause, smtplib.SMTPServerDisconnected | TimeoutError | ConnectionError):
        return SendOutcome.UNKNOWN
    return SendOutcome.REFUSED


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


def _esp_id(message) -> str:
    status = getattr(message, "anymail_status", None)
    esp_id = getattr(status, "message_id", None) if status else None
    if isinstance(esp_id, set):  # Anymail gives a set when recipients' ids differ
        esp_id = ",".join(sorted(str(i) for i in esp_id if i))
    if not esp_id:
        esp_id = message.extra_headers.get("Message-ID", "")
    return str(esp_id)[:200]


def send_one(connection, rendered: MarketingMessage) -> Outcome:
    """Send one message through an open Django email backend; its outcome."""
    message = rendered.as_email(connection)
    try:
        accepted = connection.send_messages([message])
    except SoftTimeLimitExceeded:
        raise  # the task's time is up, not the transport's answer: the claim stays unknown
    except Exception as error:  # the transport's answer, whatever its type
        return Outcome(classify(error), error=_describe(error))
    if not accepted:
        return Outcome(SendOutcome.REFUSED, error="not accepted by the backend")
    return Outcome(SendOutcome.SENT, esp_id=_esp_id(message))


class Parallel:
    """Any Django email backend: one message per send call, on several connections at once."""

    def __init__(self, connections: list):
        self.connections = connections
        self.capacity = len(connections)
        self._pool = ThreadPoolExecutor(max_workers=self.capacity) if self.capacity > 1 else None

    def send(self, messages: list[MarketingMessage]) -> list[Outcome]:
        if len(messages) > self.capacity:
            raise ValueError(f"at most {self.capacity} messages per send call")
        if self._pool is None:
            return [send_one(self.connections[0], m) for m in messages]
        futures = [
            self._pool.submit(send_one, c, m)
            for c, m in zip(self.connections, messages, strict=False)
        ]
        return [future.result() for future in futures]

    def close(self) -> None:
        if self._pool is not None:
            # An interrupted send leaves its threads to finish their message; don't wait.
            self._pool.shutdown(wait=False, cancel_futures=True)


class PostmarkBatch:
    """Anymail's Postmark backend, up to 500 distinct messages per `/email/batch` request."""

    capacity = POSTMARK_BATCH_LIMIT

    def __init__(self, connection: AnymailPostmarkBackend):
        self.connection = connection

    def send(self, messages: list[MarketingMessage]) -> list[Outcome]:
        if len(messages) > self.capacity:
            raise ValueError(f"Postmark takes at most {self.capacity} messages per batch call")
        if not messages:
            return []
        backend = self.connection
        payload = backend.build_message_payload(messages[0].as_email(), backend.send_defaults)
        params = payload.get_request_params(backend.api_url)
        params["url"] = urljoin(backend.api_url, "email/batch")
        params["data"] = self._serialize(payload.data, backend.send_defaults, messages)
        params.setdefault("timeout", backend.timeout)

        def every(state: str, error: str) -> list[Outcome]:
            return [Outcome(state, error=error[:2000]) for _ in messages]

        try:
            response = backend.session.request(**params)
        except requests.RequestException as error:
            return every(
                SendOutcome.RETRY if _connect_failed(error) else SendOutcome.UNKNOWN,
                _describe(error),
            )
        if response.status_code in RETRY_LATER_STATUSES:
            return every(
                SendOutcome.RETRY, f"Postmark answered {response.status_code}; try again later"
            )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code != 200:
            # The whole request was refused (bad token, malformed batch): nothing was sent.
            detail = answer.get("Message", "") if isinstance(answer, dict) else response.text
            return every(
                SendOutcome.REFUSED,
                f"Postmark refused the batch ({response.status_code}): {detail}",
            )
        if not isinstance(answer, list) or len(answer) != len(messages):
            return every(
                SendOutcome.UNKNOWN, "Postmark's answer does not list one result per message"
            )
        return [self._outcome(item) for item in answer]

    def close(self) -> None:
        pass

    @staticmethod
    def _serialize(shared: dict, defaults: dict, messages: list[MarketingMessage]) -> str:
        """The /email/batch body: the shared fields, then each message's own parts."""
        base = {
            key: value
            for key, value in shared.items()
            if key not in {"To", "Cc", "Bcc", "Subject", "TextBody", "HtmlBody"}
        }
        default_headers = defaults.get("extra_headers") or {}
        default_metadata = defaults.get("metadata") or {}
        items = []
        for message in messages:
            item = {
                **base,
                "To": message.to,
                "Subject": message.subject,
                "TextBody": message.text,
                "Tag": message.tag,
                "Headers": [
                    {"Name": name, "Value": value}
                    for name, value in {**default_headers, **message.headers}.items()
                ],
                "Metadata": {**default_metadata, **message.metadata},
            }
            if message.html:
                item["HtmlBody"] = message.html
            items.append(item)
        return json.dumps(items, ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def _outcome(item) -> Outcome:
        if not isinstance(item, dict):
            return Outcome(SendOutcome.UNKNOWN, error="Postmark gave no result for this message")
        code = item.get("ErrorCode", 0)
        if code == 0 and item.get("MessageID"):
            return Outcome(SendOutcome.SENT, esp_id=str(item["MessageID"])[:200])
        return Outcome(
            SendOutcome.REFUSED, error=f"Postmark error {code}: {item.get('Message', '')}"[:2000]
        )


# Backends with a batch call for distinct messages; subclasses count as their base.
BATCH_SENDERS: dict[type, type] = {AnymailPostmarkBackend: PostmarkBatch}


def _batch_sender(backend_class: type) -> type | None:
    return next((BATCH_SENDERS[b] for b in backend_class.__mro__ if b in BATCH_SENDERS), None)


def has_batch_api(backend: str) -> bool:
    """Whether this email backend (a dotted path) sends many distinct messages per call."""
    return _batch_sender(import_string(backend)) is not None


def _open(connection):
    try:
        connection.open()
    except Exception as error:
        raise TransportUnavailable(_describe(error)) from error
    return connection


@contextlib.contextmanager
def open_sender(backend: str, connections: int) -> Iterator[Parallel | PostmarkBatch]:
    """The best sender for this backend, its connections open; closes them at the end.

    Raises TransportUnavailable when a connection cannot be opened (nothing was sent).
    """
    first = get_connection(backend)
    sender_class = _batch_sender(type(first))
    opened = [_open(first)]
    try:
        if sender_class is not None:
            sender = sender_class(first)
        else:
            for _ in range(max(connections, 1) - 1):
                opened.append(_open(get_connection(backend)))
            sender = Parallel(opened)
        try:
            yield sender
        finally:
            sender.close()
    finally:
        for connection in opened:
            with contextlib.suppress(Exception):
                connection.close()
