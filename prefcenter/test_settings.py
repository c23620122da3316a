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

from .settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
