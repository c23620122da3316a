"""Amazon SNS message signatures: the proof that an Amazon SES webhook comes from Amazon.

Anymail checks only basic auth on SES webhooks; anyone who learns (or guesses) it could post
bounces and complaints. `sns_verify` checks what Amazon documents ("Verifying the signatures of
Amazon SNS messages"): the certificate comes over https from an `sns.<region>.amazonaws.com`
host, and its key verifies the signature over the message's canonical string (SHA1withRSA for
SignatureVersion 1, SHA256withRSA for 2).
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings

# The fields signed, in order, per message type.
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SIGNED_FIELDS["UnsubscribeConfirmation"] = SIGNED_FIELDS["SubscriptionConfirmation"]
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
CERTIFICATE_TIMEOUT_SECONDS = 5
MAX_CERTIFICATE_BYTES = 64 * 1024


class SnsSignatureInvalid(Exception):
    """The message is not provably from Amazon SNS; it must change nothing."""


def certificate_url_allowed(url: str) -> bool:
    """Whether `url` is an https URL on an Amazon SNS host (SNS_CERTIFICATE_HOST_PATTERN)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and port in (None, 443)
        and parts.username is None
        and parts.password is None
        and bool(re.fullmatch(settings.SNS_CERTIFICATE_HOST_PATTERN, parts.hostname or ""))
        and parts.path.endswith(".pem")
    )


def fetch_certificate(url: str) -> bytes:
    """The PEM bytes at `url` (only ever called with an allowed URL). Tests replace this."""
    response = requests.get(url, timeout=CERTIFICATE_TIMEOUT_SECONDS, allow_redirects=False)
    response.raise_for_status()
    return response.content[:MAX_CERTIFICATE_BYTES]


@functools.lru_cache(maxsize=16)
def _public_key(url: str) -> rsa.RSAPublicKey:
    # Amazon rotates these rarely; one fetch per URL per process is enough.
    certificate = x509.load_pem_x509_certificate(fetch_certificate(url))
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnsSignatureInvalid("The SNS certificate does not hold an RSA key.")
    return key


def _canonical(message: dict) -> bytes:
    fields = SIGNED_FIELDS.get(message.get("Type"))
    if fields is None:
        raise SnsSignatureInvalid("Unknown SNS message type.")
    lines = []
    for name in fields:
        value = message.get(name)
        if value is None and name == "Subject":
            continue  # the only optional signed field
        if not isinstance(value, str):
            raise SnsSignatureInvalid(f"The SNS message has no {name}.")
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode()


def sns_verify(*, message: object) -> None:
    """Raise SnsSignatureInvalid unless `message` (a parsed SNS JSON body) is signed by SNS,
    and, when SES_SNS_TOPIC_ARNS is set, was published to one of those topics."""
    if not isinstance(message, dict):
        raise SnsSignatureInvalid("An SNS message is a JSON object.")
    url = message.get("SigningCertURL") or message.get("SigningCertUrl")
    if not isinstance(url, str) or not certificate_url_allowed(url):
        raise SnsSignatureInvalid("The signing certificate is not on an Amazon SNS host.")
    algorithm = HASHES.get(str(message.get("SignatureVersion")))
    if algorithm is None:
        raise SnsSignatureInvalid("Unknown SNS SignatureVersion.")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise SnsSignatureInvalid("The SNS signature is not base64.") from None
    canonical = _canonical(message)
    try:
        key = _public_key(url)
    except (requests.RequestException, ValueError) as error:
        raise SnsSignatureInvalid(f"The SNS certificate could not be read: {error}") from None
    try:
        key.verify(signature, canonical, padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise SnsSignatureInvalid("The SNS signature does not match.") from None
    allowed_topics = settings.SES_SNS_TOPIC_ARNS
    if allowed_topics and message.get("TopicArn") not in allowed_topics:
        raise SnsSignatureInvalid("The SNS topic is not one of SES_SNS_TOPIC_ARNS.")
