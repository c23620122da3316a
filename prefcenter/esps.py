"""The ESPs whose tracking webhooks prefcenter can mount, and what each needs to authenticate one.

A plain table (no Django imports) because the settings read it before Django starts: with DEBUG
off, every ESP in ESP_WEBHOOKS that signs its webhooks must have its signing key set, or the
process refuses to start. Names are Anymail's (its URL segment: /anymail/<esp>/tracking/).
"""

from __future__ import annotations

# ESP → the ANYMAIL_* environment variable holding the key its webhook signature is checked
# with, or None where the ESP does not sign (basic auth, ANYMAIL_WEBHOOK_SECRET, is then all
# there is). Amazon SES signs through SNS with Amazon's certificate: prefcenter verifies that
# itself (subscriptions/feedback/sns.py), so it needs no key of ours.
SIGNING_KEYS: dict[str, str | None] = {
    "amazon_ses": None,
    "brevo": None,
    "mailersend": "ANYMAIL_MAILERSEND_SIGNING_SECRET",
    "mailgun": "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY",
    "mailjet": None,
    "mailtrap": "ANYMAIL_MAILTRAP_TRACKING_SECRET",
    "mandrill": "ANYMAIL_MANDRILL_WEBHOOK_KEY",
    "postal": "ANYMAIL_POSTAL_WEBHOOK_KEY",
    "postmark": None,
    "resend": "ANYMAIL_RESEND_SIGNING_SECRET",
    "sendgrid": "ANYMAIL_SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY",
    "sendinblue": None,
    "sparkpost": None,
    "unisender_go": "ANYMAIL_UNISENDER_GO_API_KEY",
}

ESP_NAMES = frozenset(SIGNING_KEYS)

# Email backends that are not `anymail.backends.<esp>.EmailBackend` but send through an ESP.
BACKEND_ESPS: dict[str, str] = {}


def esp_of_backend(backend: str) -> str | None:
    """The ESP an EMAIL_BACKEND dotted path sends through, or None (SMTP, files, tests)."""
    if backend in BACKEND_ESPS:
        return BACKEND_ESPS[backend]
    parts = backend.split(".")
    if len(parts) == 4 and parts[:2] == ["anymail", "backends"] and parts[2] in ESP_NAMES:
        return parts[2]
    return None


def default_esp_webhooks(backends: list[str]) -> list[str]:
    """The ESPs of the configured email backends, in order, without repeats."""
    found = [esp_of_backend(backend) for backend in backends]
    return list(dict.fromkeys(esp for esp in found if esp is not None))
