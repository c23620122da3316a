"""A PostgreSQL that stops under a running app: every subscriber page, the one-click endpoint
and the API answer 503 with Retry-After (a styled, translated page, or the JSON error), never a
bare 500 (issue 11, bar 2).

The test owns its cluster (initdb on a free port), migrates it, starts the app for real
(gunicorn, DEBUG off, production settings), checks each address works, then stops PostgreSQL
under the app's open connection and asks again.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.deploy.test_runstack import free_port
from tests.deploy.test_security_startup import ROOT, complete_env

BIN = Path(sys.executable).parent
PG_BIN = Path(shutil.which("initdb") or "/usr/lib/postgresql/bin/initdb").parent

# The data a person and an API client would hold: made in the app's own process, with its key.
MAKE_DATA = """
from subscriptions.api.keys import api_key_create
from subscriptions.consent.tokens import preferences_token, unsubscribe_token
from subscriptions.models import Campaign, Contact, Subscription, Topic
topic = Topic.objects.create(slug="news", name="News", name_da="Nyheder")
contact = Contact.objects.create(email="mette@example.dk", email_key="mette@example.dk", locale="da")
Subscription.objects.create(contact=contact, topic=topic, status="subscribed")
campaign = Campaign.objects.create(topic=topic, subject="Hi", text_body="Hi")
_key, secret = api_key_create(name="crm")
print("DATA", unsubscribe_token(contact, topic), preferences_token(contact), campaign.pk, secret)
"""


def as_postgres(*args: str, **kwargs) -> subprocess.CompletedProcess:
    # initdb and postgres refuse to run as root.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *args], check=True, capture_output=True, text=True, **kwargs)


@pytest.fixture
def cluster():
    if not (PG_BIN / "pg_ctl").exists():
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are needed: install postgresql")
    # Not under pytest's tmp_path: the postgres user cannot enter root's private folders.
    home = Path(tempfile.mkdtemp(prefix="prefcenter-outage-"))
    data = home / "pg"
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
    port = free_port()
    as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    as_postgres(
        str(PG_BIN / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(data / "log"),
        "-w",
        "start",
    )
    yield data, port
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-m",
            "immediate",
            "stop",
        ]
        if os.geteuid() == 0
        else [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
        capture_output=True,
        check=False,
    )
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def running_app(tmp_path, cluster):
    data, pg_port = cluster
    port = free_port()
    env = complete_env(
        tmp_path,
        SITE_URL=f"http://127.0.0.1:{port}",
        # The cluster is the test's own: its maintenance database will do.
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{pg_port}/postgres",
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    made = subprocess.run(
        [*manage, "shell", "-c", MAKE_DATA],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    unsubscribe, preferences, campaign_id, secret = re.search(
        r"^DATA (\S+) (\S+) (\d+) (\S+)$", made.stdout, re.M
    ).groups()
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
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.2)

    def stop_database() -> None:
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")

    yield {
        "base": base,
        "unsubscribe": f"{base}/unsubscribe/{unsubscribe}/",
        "preferences": f"{base}/preferences/{preferences}/",
        "campaign": f"{base}/api/v1/campaigns/{campaign_id}/",
        "api_headers": {"Authorization": f"Bearer {secret}"},
        "stop_database": stop_database,
    }
    process.terminate()
    output = process.communicate(timeout=20)[0].decode(errors="replace")
    assert "Internal Server Error" not in output, output
    assert " 500 " not in output, output
    # The operator learns why, and the tokens in the paths stay out of the log.
    assert "answered 503" in output, output
    assert unsubscribe not in output and preferences not in output, output


def assert_page_503(response: requests.Response) -> None:
    assert response.status_code == 503, response.text[:500]
    assert int(response.headers["Retry-After"]) > 0
    assert "site.css" in response.text  # the styled page, not plain words
    # In the language the browser asks for (the contact's own is in the database that is down).
    assert "Midlertidigt utilgængelig" in response.text
    assert "Dit valg blev ikke gemt" in response.text
    assert "Set-Cookie" not in response.headers


def test_it_answers_503_on_every_page_and_the_api_once_the_database_stops(running_app):
    app = running_app
    da = {"Accept-Language": "da"}
    session = requests.Session()
    # With the database up every address works, so a 503 below is the outage, not a bad link.
    assert session.get(app["unsubscribe"], headers=da, timeout=10).status_code == 200
    page = session.get(app["preferences"], headers=da, timeout=10)
    assert page.status_code == 200
    assert "Nyheder" in page.text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    api = requests.get(app["campaign"], headers=app["api_headers"], timeout=10)
    assert api.status_code == 200, api.text

    app["stop_database"]()

    assert_page_503(requests.get(app["unsubscribe"], headers=da, timeout=10))
    assert_page_503(requests.post(app["unsubscribe"], data={}, headers=da, timeout=10))
    one_click = requests.post(
        app["unsubscribe"],
        data={"List-Unsubscribe": "One-Click"},
        headers=da,
        allow_redirects=False,
        timeout=10,
    )
    assert_page_503(one_click)
    assert_page_503(session.get(app["preferences"], headers=da, timeout=10))
    saved = session.post(
        app["preferences"],
        data={"csrfmiddlewaretoken": csrf, "action": "unsubscribe_all"},
        headers={**da, "Referer": app["preferences"]},
        timeout=10,
    )
    assert_page_503(saved)
    api = requests.get(app["campaign"], headers=app["api_headers"], timeout=10)
    assert api.status_code == 503, api.text
    assert int(api.headers["Retry-After"]) > 0
    assert api.json()["error"] == "database_unavailable"
