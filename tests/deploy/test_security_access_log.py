"""Access logs keep no working link and no address (issue 9, road 11).

A real gunicorn, started with the project's config module, serves the app against the test
database; the test reads the access log it wrote.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from prefcenter.log_redaction import RedactFilter, redact_link_secrets
from subscriptions.consent.tokens import confirm_token, preferences_token, unsubscribe_token
from subscriptions.models import ConfirmationRequest
from tests.factories import ContactFactory, SubscriptionFactory, TopicFactory

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, **headers) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return 0


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    port = free_port()
    log = tmp_path / "access.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prefcenter.test_settings",
        "DATABASE_URL": database_url(),
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "-c", "python:prefcenter.gunicorn_conf"),
            *("--bind", f"127.0.0.1:{port}", "--workers", "1", "--access-logfile", str(log)),
            "prefcenter.wsgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while get(f"{base}/subscribe/") != 200:
        assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
        time.sleep(0.2)
    yield base, log
    process.terminate()
    process.wait(timeout=10)


def test_it_redacts_tokens_and_addresses_from_gunicorns_access_log(gunicorn):
    base, log = gunicorn
    topic = TopicFactory(slug="news")
    alice = ContactFactory(email="alice@example.com")
    SubscriptionFactory(contact=alice, topic=topic)
    confirmation = ConfirmationRequest.objects.create(contact=alice)
    confirmation.topics.set([TopicFactory(slug="digest")])
    secrets = [
        unsubscribe_token(alice, topic),
        preferences_token(alice),
        confirm_token(confirmation),
    ]
    unsubscribe_link = f"{base}/unsubscribe/{secrets[0]}/"
    assert get(unsubscribe_link) == 200  # a working link: the one a log must never keep
    assert get(f"{base}/preferences/{secrets[1]}/?notice=saved") == 200
    assert get(f"{base}/confirm/{secrets[2]}/") == 200
    get(f"{base}/api/v1/contacts/?email=alice%40example.com&limit=5")
    get(f"{base}/api/v1/suppressions/check/?email=alice@example.com")
    assert get(f"{base}/subscribe/", Referer=unsubscribe_link) == 200
    assert get(f"{base}/preferences/") == 200

    deadline = time.monotonic() + 10
    while log.read_text().count("\n") < 8 and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()

    for secret in secrets:
        assert secret not in text
        assert secret.split(":")[0] not in text
    assert "alice" not in text
    assert text.count('"GET /unsubscribe/[redacted]/ HTTP/1.1" 200') == 1
    assert '"GET /preferences/[redacted]/?notice=saved HTTP/1.1" 200' in text
    assert '"GET /confirm/[redacted]/ HTTP/1.1" 200' in text
    assert '"GET /api/v1/contacts/?email=[redacted]&limit=5 HTTP/1.1"' in text
    assert '"GET /api/v1/suppressions/check/?email=[redacted] HTTP/1.1"' in text
    assert f'"{base}/unsubscribe/[redacted]/"' in text  # the Referer
    assert '"GET /preferences/ HTTP/1.1" 200' in text  # the lost-link form is no secret


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /unsubscribe/abc:def/ HTTP/1.1", "GET /unsubscribe/[redacted]/ HTTP/1.1"),
        ("GET /privacy/request/erase/tok/ HTTP/1.1", "GET /privacy/[redacted]/ HTTP/1.1"),
        ("GET /preferences/abc", "GET /preferences/[redacted]"),
        ("email=a%40b.c&x=1", "email=[redacted]&x=1"),
        ("/x?Email=a@b.c;token=t", "/x?Email=[redacted];token=[redacted]"),
        ("/x?contact_email=a@b.c", "/x?contact_email=[redacted]"),
        ("/x?notice=saved", "/x?notice=saved"),
        ("/account/preferences/", "/account/preferences/"),
        ("Not Found: /confirm/xyz/", "Not Found: /confirm/[redacted]/"),
    ],
)
def test_it_redacts_link_tokens_and_addresses(line, expected):
    assert redact_link_secrets(line) == expected


def test_it_redacts_the_apps_own_log_lines(settings):
    # django.request logs "Not Found: <path>" for a bad or erased contact's link.
    assert "redact" in settings.LOGGING["handlers"]["console"]["filters"]
    record = logging.LogRecord(
        "django.request", logging.WARNING, "", 0, "Not Found: %s", ("/unsubscribe/tok3n/",), None
    )
    assert RedactFilter().filter(record)
    assert record.getMessage() == "Not Found: /unsubscribe/[redacted]/"
