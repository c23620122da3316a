"""How the ESPs sign their webhooks, done with the test keys under tests/fixtures/keys/.

The public halves are configured in prefcenter/test_settings.py; the verification code that
checks these signatures (Anymail's, and subscriptions/feedback/sns.py for Amazon SNS) runs for real.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from subscriptions.feedback import sns

KEYS = Path(__file__).parent / "fixtures" / "keys"
SNS_CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-prefcentertest.pem"


def _private(name: str):
    return serialization.load_pem_private_key((KEYS / name).read_bytes(), password=None)


def sendgrid_headers(body: str) -> dict[str, str]:
    """The Twilio SendGrid Event Webhook signature headers of `body` (ECDSA over stamp+body)."""
    stamp = str(int(time.time()))
    signature = _private("sendgrid_test_key.pem").sign(
        (stamp + body).encode(), ec.ECDSA(hashes.SHA256())
    )
    return {
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": base64.b64encode(signature).decode(),
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": stamp,
    }


def sns_signed(message: dict, *, cert_url: str = SNS_CERT_URL, version: str = "1") -> dict:
    """A copy of the SNS `message` signed as Amazon SNS signs it, with the test certificate."""
    signed = copy.deepcopy(message)
    signed["SigningCertURL"] = cert_url
    signed["SignatureVersion"] = version
    canonical = sns._canonical(signed)
    algorithm = sns.HASHES[version]()
    signature = _private("sns_test_key.pem").sign(canonical, padding.PKCS1v15(), algorithm)
    signed["Signature"] = base64.b64encode(signature).decode()
    return signed


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def sns_certificates(monkeypatch):
    """Serve the test certificate instead of Amazon's; returns the URLs that were fetched.

    Only the download is replaced: the URL check, the certificate parsing and the signature
    verification in subscriptions/feedback/sns.py run as in production.
    """
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return (KEYS / "sns_test_cert.pem").read_bytes()

    sns._public_key.cache_clear()
    monkeypatch.setattr(sns, "fetch_certificate", fetch)
    yield fetched
    sns._public_key.cache_clear()


def dumps(payload) -> str:
    return payload if isinstance(payload, str) else json.dumps(payload)
