"""End to end, DESIGN rule 4: a campaign survives a PostgreSQL restart mid-send.

The test starts ITS OWN PostgreSQL cluster (initdb / pg_ctl, its own port and socket
directory), migrates it, runs a campaign on it with a real marketing worker and the SMTP sink of
test_sending_e2e, and restarts the cluster for about 10 s at ~20 % of the campaign: at most the
messages in flight may end `outcome_unknown`, nobody is mailed twice, and the campaign finishes
within a minute of the database's return.
"""

from __future__ import annotations

import collections
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from prefcenter.celery import app
from tests.campaigns.test_sending_e2e import CELERY, ROOT, kill, wait_for
from tests.support.smtp import free_port

pytestmark = [pytest.mark.e2e]

RECIPIENTS = 3000
BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))

SETUP = f"""
from subscriptions.addresses import address_hash, address_key
from subscriptions.campaigns.lifecycle import campaign_start
from subscriptions.models import Campaign, Contact, Subscription, Topic

topic = Topic.objects.create(slug="news", name="News")
contacts = Contact.objects.bulk_create(
    Contact(email=e, email_key=address_key(e), address_hash=address_hash(e))
    for e in (f"dbrestart{{i}}@example.com" for i in range({RECIPIENTS}))
)
Subscription.objects.bulk_create(
    Subscription(contact=c, topic=topic, status="subscribed") for c in contacts
)
campaign = Campaign.objects.create(
    name="Restart", topic=topic, subject="News", text_body="Hello", html_body="<p>Hello</p>"
)
campaign_start(campaign=campaign)
print("CAMPAIGN", campaign.pk)
"""


class Cluster:
    """A throwaway PostgreSQL cluster run as the `postgres` user when the tests run as root."""

    def __init__(self, base: Path):
        self.bin = Path(BINARIES[-1])
        self.base = base
        self.data = base / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/prefcenter"

    def run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres")
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE prefcenter")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.base / "log"),
                 "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def dsn(self, database: str = "prefcenter") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def query(self, statement: str, *params):
        with psycopg.connect(self.dsn(), autocommit=True, connect_timeout=5) as conn:
            return conn.execute(statement, params).fetchall()


@pytest.fixture
def cluster():
    if not BINARIES:
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are needed: install postgresql")
    base = Path(tempfile.mkdtemp(prefix="pc-dbrestart-"))
    own = Cluster(base)
    own.init()
    yield own
    try:
        own.stop()
    except subprocess.CalledProcessError:
        pass
    shutil.rmtree(base, ignore_errors=True)


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.stdout


def test_it_finishes_a_campaign_within_a_minute_of_a_database_restart(cluster, smtp):
    port, sink = smtp
    connections = 4  # one SMTP connection per message in flight: at most 4 in flight
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prefcenter.test_settings",
        "DATABASE_URL": cluster.url,
        "MARKETING_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "MARKETING_SEND_RATE": "150",
        "SEND_BATCH_SIZE": "50",
        "SEND_CONNECTIONS": str(connections),
    }
    manage(env, "migrate", "--noinput")
    app.control.purge()
    worker = subprocess.Popen(
        [CELERY, "-A", "prefcenter", "worker", "-Q", "marketing", "--pool=solo", "-l", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        campaign_id = int(manage(env, "shell", "-c", SETUP).split("CAMPAIGN")[1])

        wait_for(lambda: len(sink.recipients()) >= RECIPIENTS // 5, 90, "20% of the campaign")
        cluster.stop()
        time.sleep(10)
        cluster.start()
        back = time.monotonic()

        def status() -> str:
            return cluster.query(
                "SELECT status FROM subscriptions_campaign WHERE id = %s", campaign_id
            )[0][0]

        wait_for(lambda: status() == "sent", 60, "the campaign to finish after the restart")
        assert time.monotonic() - back < 60
    finally:
        kill(worker)
        app.control.purge()

    received = sink.recipients()
    assert [a for a, n in collections.Counter(received).items() if n > 1] == []
    rows = dict(
        cluster.query(
            "SELECT CASE WHEN reason = 'outcome_unknown' THEN reason ELSE status END, count(*)"
            " FROM subscriptions_delivery WHERE campaign_id = %s GROUP BY 1",
            campaign_id,
        )
    )
    assert rows.get("outcome_unknown", 0) <= connections
    assert rows.get("sent", 0) + rows.get("outcome_unknown", 0) == RECIPIENTS
    expected = {f"dbrestart{i}@example.com" for i in range(RECIPIENTS)}
    assert len(expected - set(received)) <= connections
