"""Overrides for the test suite: the real services, nothing eager, mail captured."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdefghij")
os.environ.setdefault("SUPPRESSION_HASH_KEY", "test-suppression-hash-key")
os.environ.setdefault("POSTAL_ADDRESS", "Example Inc., 1 Test Street, 1000 Testville")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("ANYMAIL_WEBHOOK_SECRET", "test:webhook-secret")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prefcenter")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/1")
os.environ.setdefault("EMAIL_BACKEND", "anymail.backends.test.EmailBackend")
# The rate-limit windows live in Redis across tests and runs, and many tests confirm for the
# same few addresses; the tests of the limit itself set the production value.
os.environ.setdefault("CONFIRMATION_RATE_LIMIT_EMAIL", "100000/h")
# Tracking webhooks of these ESPs are mounted; the others answer 404. Each signer has a test key
# (the private halves are under tests/fixtures/keys/).
os.environ.setdefault(
    "ESP_WEBHOOKS",
    "postmark,amazon_ses,sendgrid,mailgun,mandrill,mailersend,postal,resend,unisender_go,mailtrap",
)
os.environ.setdefault(
    "ANYMAIL_SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY",
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAErWxgIhlHgVxKCAW8msy2wB9d/P3f6Rr9riY/tw/hs2tLVFBJbc45xHTt"
    "FAv5uUueGjN7+pJ6YZazWFBjqc2/tw==",
)
os.environ.setdefault(
    "ANYMAIL_POSTAL_WEBHOOK_KEY",
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtgJA7c37q6xUfRAkqK5F4V3MfE716poBB2mC7DLdcxjGC4Hl"
    "PT+aVMzA6M4COH33PbPNGpTmkNJ7DDtwGWIOESLXMPjdhVe3LNzr9ilmJZiSg/DCLbb8yvt2mXAZXZtwkK1lBuWPm5SE"
    "MFXTT+qmYDru1nv0itex5rf7D5um8z9Ay+Fnbz1WnJcDF/5zSouYnPd9EB5UzeP5h2M1OV12Ejgdv67oDvUIk/w24aRz"
    "hxUB5Evuz5ZR8wRfyBOxlopRwG991l8tCHvHCncTZE/AolaND8oAZIgZHFQ9ljavBqzLzCGwt4jLBgtX/LVY/pTcATGb"
    "J1+xWwpbcHQ6zpar+QIDAQAB",
)
os.environ.setdefault("ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY", "test-mailgun-signing-key")
os.environ.setdefault("ANYMAIL_MANDRILL_WEBHOOK_KEY", "test-mandrill-webhook-key")
os.environ.setdefault("ANYMAIL_MAILERSEND_SIGNING_SECRET", "test-mailersend-signing-secret")
os.environ.setdefault("ANYMAIL_RESEND_SIGNING_SECRET", "whsec_dGVzdC1yZXNlbmQtc2lnbmluZy1zZWNyZXQ=")
os.environ.setdefault("ANYMAIL_UNISENDER_GO_API_KEY", "test-unisender-go-api-key")
os.environ.setdefault("ANYMAIL_MAILTRAP_TRACKING_SECRET", "test-mailtrap-tracking-secret")

from .settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
