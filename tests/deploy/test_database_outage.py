"""The database is unreachable: every caller gets a 503 with Retry-After, never a 500.

DESIGN: API errors are 4xx, "or 503 with Retry-After when the database is unreachable". A mail
client's one-click POST, an ESP webhook and a person on a page need the same: a temporary
failure they can retry, which says nothing was changed. The app runs for real (gunicorn, DEBUG
off, production settings) against a PostgreSQL address where nothing listens.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from django.core import signing

from subscriptions.consent import tokens
from tests.deploy.test_runstack import free_port
from tests.deploy.test_security_startup import ROOT, complete_env

BIN = Path(sys.executable).parent


@pytest.fixture
def app_without_database(tmp_path):
    port = free_port()
    dead = free_port()  # bound once, then released: nothing listens there
    env = complete_env(
        tmp_path,
        SITE_URL=f"http://127.0.0.1:{port}",
        DATABASE_URL=f"postgres://prefcenter_app:secret@127.0.0.1:{dead}/prefcenter",
        ANYMAIL_WEBHOOK_SECRET="esp:webhook-secret",
        ESP_WEBHOOKS="postmark",
    )
    process = subprocess.Popen(
        [
            *(str(BIN / "gunicorn"), "-c", "python:prefcenter.gunicorn_conf"),
            *("prefcenter.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 503:
                break
        except requests.ConnectionError:
            time.sleep(0.2)
    yield base, env["SECRET_KEY"]
    process.terminate()
    output = process.communicate(timeout=20)[0].decode(errors="replace")
    assert "Internal Server Error" not in output, output
    # The operator still learns why: the database error is logged (the 503s hide no cause).
    if "answered 503" not in output:
        raise AssertionError(output)


def assert_retry_later(response: requests.Response) -> None:
    assert response.status_code == 503, response.text[:500]
    assert int(response.headers["Retry-After"]) > 0


def test_it_answers_the_api_503_database_unavailable(app_without_database):
    base, _secret = app_without_database

    response = requests.get(
        f"{base}/api/v1/topics/", headers={"Authorization": "Bearer pc_some-key"}, timeout=10
    )

    assert_retry_later(response)
    assert response.json()["error"] == "database_unavailable"


def test_it_answers_a_one_click_unsubscribe_503_so_the_mail_client_retries(
    app_without_database,
):
    base, secret = app_without_database
    # A genuine link: signed with the app's key, so only the database lookup can fail.
    token = signing.TimestampSigner(key=secret, salt=tokens.UNSUBSCRIBE).sign_object(
        {"c": uuid.uuid4().hex, "t": "news"}
    )

    response = requests.post(
        f"{base}/unsubscribe/{token}/",
        data={"List-Unsubscribe": "One-Click"},
        allow_redirects=False,
        timeout=10,
    )

    assert_retry_later(response)
    assert "Set-Cookie" not in response.headers


def test_it_shows_a_page_that_says_nothing_changed(app_without_database):
    base, _secret = app_without_database

    response = requests.get(f"{base}/subscribe/", timeout=10)

    assert_retry_later(response)
    assert "try again in a minute" in response.text
    assert "Nothing was sent or changed" in response.text


def test_it_answers_an_esp_webhook_503_so_the_esp_retries(app_without_database):
    base, _secret = app_without_database
    auth = base64.b64encode(b"esp:webhook-secret").decode()
    bounce = {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "TypeCode": 1,
        "MessageID": str(uuid.uuid4()),
        "Email": "someone@example.com",
        "BouncedAt": "2026-12-01T10:00:00Z",
        "Description": "The server was unable to deliver your message",
        "Details": "smtp;550 5.1.1 unknown user",
        "ID": 42,
    }

    response = requests.post(
        f"{base}/anymail/postmark/tracking/",
        json=bounce,
        headers={"Authorization": f"Basic {auth}"},
        timeout=10,
    )

    assert_retry_later(response)
