"""Handing rendered marketing messages to the mail transport, many per call where it can.

Anymail sends one EmailMessage per ESP call; its own batch feature shares a single body among
all recipients, while every marketing message has a body of its own (merge fields, signed
unsubscribe links). Postmark's `/email/batch` takes up to 500 complete, distinct messages in
one request, so `PostmarkBatch` serialises MarketingMessages straight into that call. The
fields all messages share (From, MessageStream, tracking, send defaults) come from Anymail's own
payload for the first message, so Anymail settings behave as with its backend; Anymail's
pre_send/post_send signals are not sent for batched messages. Every other backend goes through
`OneByOne`: one message per send call, over the connection the caller opened (one SMTP
session or one HTTP session per batch).

The contract of `send(messages)`, for both: it returns one Outcome per message, in order —
accepted with the ESP's message id, or refused with the error (that message did not leave).
Whole-call failures raise:

- TransportUnavailable: known not to have been accepted (connection refused, HTTP 429 / 500 /
  503, SMTP 4xx). Nothing of this call left; the caller gives the claims back and retries.
- OutcomeUnknown: the call may or may not have been accepted (a timeout or a dropped
  connection after the request went out, an unreadable answer). Never resent (rule 4).
"""

from __future__ import annotations

import json
import smtplib
import socket
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
from anymail.backends.postmark import EmailBackend as AnymailPostmarkBackend
from anymail.exceptions import AnymailAPIError
from celery.exceptions import SoftTimeLimitExceeded
from urllib3.exceptions import NewConnectionError

from .emails import MarketingMessage

# HTTP answers that say the ESP took nothing and asks to be called again later.
RETRY_LATER_STATUSES = {429, 500, 503}

# Postmark's documented limit of messages per /email/batch request.
POSTMARK_BATCH_LIMIT = 500


class TransportUnavailable(Exception):
    """The transport refused the whole call for now; nothing of it was accepted."""


class OutcomeUnknown(Exception):
    """The call went out but its answer was lost: each of its messages may have been sent."""


@dataclass(frozen=True)
class Outcome:
    esp_id: str = ""
    error: str = ""

    @property
    def accepted(self) -> bool:
        return not self.error


def _connect_failed(error: BaseException) -> bool:
    """A requests error raised before the request reached the server."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError):
        reason = getattr(error.args[0], "reason", None) if error.args else None
        return isinstance(reason, NewConnectionError | ConnectionRefusedError)
    return False


def classify(error: BaseException) -> type[Exception] | None:
    """TransportUnavailable, OutcomeUnknown, or None (this message was refused) for an error."""
    status = getattr(error, "status_code", None)
    if isinstance(error, AnymailAPIError) and status is not None:
        # The ESP answered: a refusal, unless it asked to be called again later.
        return TransportUnavailable if status in RETRY_LATER_STATUSES else None
    cause = error.__cause__ or error
    if isinstance(cause, ConnectionRefusedError | socket.gaierror | smtplib.SMTPConnectError):
        return TransportUnavailable
    if isinstance(cause, smtplib.SMTPResponseException) and 400 <= cause.smtp_code < 500:
        return TransportUnavailable
    if isinstance(cause, smtplib.SMTPRecipientsRefused) and all(
        400 <= code < 500 for code, _ in cause.recipients.values()
    ):
        return TransportUnavailable
    if isinstance(cause, requests.RequestException):
        return TransportUnavailable if _connect_failed(cause) else OutcomeUnknown
    if isinstance(cause, smtplib.SMTPServerDisconnected | TimeoutError | ConnectionError):
        return OutcomeUnknown
    return None


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _check_size(messages: list, capacity: int) -> None:
    if len(messages) > capacity:
        raise ValueError(f"at most {capacity} message(s) per send call")


class OneByOne:
    """Any Django email backend: one message per send call, so each has its own outcome."""

    capacity = 1

    def __init__(self, connection):
        self.connection = connection

    def send(self, messages: list[MarketingMessage]) -> list[Outcome]:
        _check_size(messages, self.capacity)
        outcomes = []
        for rendered in messages:
            message = rendered.as_email(self.connection)
            try:
                accepted = self.connection.send_messages([message])
            except SoftTimeLimitExceeded:
                raise  # not a refusal: whether it left is unknown (the claim stays)
            except Exception as error:
                kind = classify(error)
                if kind is not None:
                    raise kind(_describe(error)) from error
                outcomes.append(Outcome(error=_describe(error)))
                continue
            if accepted:
                outcomes.append(Outcome(esp_id=_esp_id(message)))
            else:
                outcomes.append(Outcome(error="not accepted by the backend"))
        return outcomes


def _esp_id(message) -> str:
    status = getattr(message, "anymail_status", None)
    esp_id = getattr(status, "message_id", None) if status else None
    if isinstance(esp_id, set):  # Anymail gives a set when recipients' ids differ
        esp_id = ",".join(sorted(str(i) for i in esp_id if i))
    if not esp_id:
        esp_id = message.extra_headers.get("Message-ID", "")
    return str(esp_id)[:200]


class PostmarkBatch:
    """Anymail's Postmark backend, up to 500 distinct messages per `/email/batch` request."""

    capacity = POSTMARK_BATCH_LIMIT

    def __init__(self, connection: AnymailPostmarkBackend):
        self.connection = connection

    def send(self, messages: list[MarketingMessage]) -> list[Outcome]:
        if not messages:
            return []
        _check_size(messages, self.capacity)
        backend = self.connection
        payload = backend.build_message_payload(messages[0].as_email(), backend.send_defaults)
        params = payload.get_request_params(backend.api_url)
        params["url"] = urljoin(backend.api_url, "email/batch")
        params["data"] = self._serialize(payload.data, backend.send_defaults, messages)
        params.setdefault("timeout", backend.timeout)
        try:
            response = backend.session.request(**params)
        except requests.RequestException as error:
            kind = TransportUnavailable if _connect_failed(error) else OutcomeUnknown
            raise kind(_describe(error)) from error
        if response.status_code in RETRY_LATER_STATUSES:
            raise TransportUnavailable(f"Postmark answered {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code != 200:
            # The whole request was refused (bad token, malformed batch): nothing was sent.
            detail = answer.get("Message", "") if isinstance(answer, dict) else response.text
            error = f"Postmark refused the batch ({response.status_code}): {detail}"[:2000]
            return [Outcome(error=error) for _ in messages]
        if not isinstance(answer, list) or len(answer) != len(messages):
            raise OutcomeUnknown("Postmark's batch answer does not list one result per message")
        return [self._outcome(item) for item in answer]

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
            return Outcome(error="Postmark gave no result for this message")
        code = item.get("ErrorCode", 0)
        if code == 0 and item.get("MessageID"):
            return Outcome(esp_id=str(item["MessageID"])[:200])
        return Outcome(error=f"Postmark error {code}: {item.get('Message', '')}"[:2000])


# Backends with a batch call for distinct messages; subclasses count as their base.
BATCH_SENDERS: dict[type, type] = {AnymailPostmarkBackend: PostmarkBatch}


def sender_for(connection) -> OneByOne | PostmarkBatch:
    """The best way to hand messages to this connection's transport."""
    for base in type(connection).__mro__:
        if base in BATCH_SENDERS:
            return BATCH_SENDERS[base](connection)
    return OneByOne(connection)
