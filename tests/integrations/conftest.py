"""Fixtures of the webhook tests: a real local HTTP receiver, endpoints, a webhook worker."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.cache import cache

from prefcenter.celery import app
from subscriptions.consent.events import WANTED_TYPES_CACHE_KEY
from subscriptions.integrations.endpoints import webhook_endpoint_create
from subscriptions.models.choices import OutboundEventType
from tests.support.database import database_url as role_database_url

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))
# How long a "hang" answer keeps the connection without answering (beyond the 5 s limit).
HANG_SECONDS = 8
WORKER_START_SECONDS = 90


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    at: float

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What the receiver got, and how it answers: `script` is consumed one entry per request
    (an int status, "hang", or ("redirect", location)); when empty it answers 200."""

    url: str
    requests: list[Received] = field(default_factory=list)
    script: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)

    def events(self, event_type: str | None = None) -> list[dict]:
        with self.lock:
            events = [request.event for request in self.requests if request.path == "/hook"]
        return [e for e in events if event_type is None or e["type"] == event_type]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        receiver: Receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with receiver.lock:
            receiver.requests.append(Received(self.path, dict(self.headers), body, time.time()))
            answer = receiver.script.pop(0) if receiver.script else 200
        if answer == "hang":
            receiver.released.wait(HANG_SECONDS)
            answer = 200
        try:
            if isinstance(answer, tuple):
                self.send_response(302)
                self.send_header("Location", answer[1])
            else:
                self.send_response(answer)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except OSError:
            pass  # the caller gave up (timed out) and closed the connection

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.receiver
    server.receiver.released.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def forget_wanted_types():
    """The wanted event types are cached in Redis, which outlives each test's database."""
    cache.delete(WANTED_TYPES_CACHE_KEY)
    yield
    cache.delete(WANTED_TYPES_CACHE_KEY)


@pytest.fixture
def private_networks(settings):
    """The receivers of these tests listen on loopback."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture
def endpoint(db, receiver, private_networks):
    """An endpoint on the receiver for every event type."""
    return webhook_endpoint_create(url=receiver.url, events=list(OutboundEventType.values))


def signature_valid(secret: str, header: str, body: bytes, tolerance: float = 300) -> bool:
    """An independent check of Prefcenter-Signature, as docs/integrating.md tells receivers."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def webhook_worker(transactional_db, tmp_path):
    """A real `celery worker -Q transactional,webhooks` (and beat, on demand) on the test
    database, retrying after 1 s instead of 5; killed at the end."""
    app.control.purge()
    started: list[subprocess.Popen] = []
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prefcenter.test_settings",
        "DATABASE_URL": role_database_url("app"),
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "WEBHOOK_RETRY_BASE_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
        "CELERY_BEAT_SCHEDULE_SECONDS": "2",
        "CELERY_BEAT_SCHEDULE_FILENAME": str(tmp_path / "celerybeat-schedule"),
    }

    def start(*args: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [CELERY, "-A", "prefcenter", *args, "-l", "WARNING"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        started.append(process)
        return process

    def worker() -> subprocess.Popen:
        name = f"webhooks-test-{os.getpid()}@{socket.gethostname()}"
        process = start(
            "worker",
            "-Q",
            "transactional,webhooks",
            "-n",
            name,
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        )
        # "Within seconds" counts from a running worker: on a loaded machine starting one
        # takes longer than delivering.
        wait_for(
            lambda: app.control.ping(destination=[name], timeout=1),
            WORKER_START_SECONDS,
            "the webhook worker to start",
        )
        return process

    start.worker = worker
    start.beat = lambda: start("beat")
    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    app.control.purge()
