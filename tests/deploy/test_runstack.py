"""`manage.py runstack` (what `make run` calls), started for real on the embedded defaults."""

from __future__ import annotations

import html
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from prefcenter.dev_defaults import apply_dev_defaults
from subscriptions.management.commands.runstack import _redact

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except (urllib.error.URLError, OSError):
        return 0, ""  # not listening yet


class Visitor:
    """A browser's part that matters here: cookies, the CSRF token of the last form, redirects."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.csrf = ""

    def open(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = None
        if data is not None:
            body = urllib.parse.urlencode({"csrfmiddlewaretoken": self.csrf, **data}, doseq=True)
        request = urllib.request.Request(
            self.base + path, data=body.encode() if body is not None else None
        )
        try:
            with self.opener.open(request, timeout=10) as response:
                status, page = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, page = error.code, error.read().decode(errors="replace")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if token:
            self.csrf = token.group(1)
        return status, page


def outbox_link(base: str, to: str, stream: str) -> str | None:
    """The path of the newest outbox message to `to` on `stream`, if one arrived."""
    rows = re.findall(r"<tr>(.*?)</tr>", fetch(f"{base}/outbox/")[1], re.S)
    for row in rows:
        if f"<td>{to}</td>" in row and f"stream-{stream}" in row:
            return re.search(r'href="(/outbox/[^"]+)"', row).group(1)
    return None


def link_in(base: str, message_path: str, kind: str) -> str:
    page = html.unescape(fetch(base + message_path)[1])
    return re.search(rf"{re.escape(base)}(/{kind}/[\w:.-]+/)", page).group(1)


def wait_for(predicate, timeout: float, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    return None


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def clean_env(tmp_path: Path, port: int) -> dict[str, str]:
    """No DATABASE_URL, broker or Redis (the test run's own are not inherited), its own var/."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "prefcenter.settings",
        "PREFCENTER_VAR_DIR": str(tmp_path / "var"),
        "PORT": str(port),
    }


@pytest.fixture
def stack(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "--concurrency", "1"],
        cwd=ROOT,
        env=clean_env(tmp_path, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lines: list[str] = []

    def read():
        for raw in process.stdout:
            lines.append(raw.decode(errors="replace").rstrip())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    yield process, port, lines, tmp_path / "var"
    if process.poll() is None:
        process.kill()
    for line in lines:
        match = re.match(r"started \w+ \(pid (\d+)\)", line)
        if match and group_alive(int(match.group(1))):
            os.killpg(int(match.group(1)), signal.SIGKILL)
    process.wait(timeout=10)


@pytest.mark.e2e
def test_it_runs_the_whole_stack_and_stops_it_on_ctrl_c(stack):
    process, port, lines, var = stack
    base = f"http://127.0.0.1:{port}"

    healthy = wait_for(lambda: fetch(f"{base}/healthz")[0] == 200 or process.poll() is not None, 90)
    assert healthy and process.poll() is None, "\n".join(lines[-40:])
    assert wait_for(lambda: any("Press Ctrl-C" in line for line in lines), 10)
    output = "\n".join(lines)

    # It printed where to look, on the port it was given.
    assert f"Site:              {base}/subscribe/" in output
    assert f"Admin:             {base}/admin/   (login demo / demo)" in output
    assert f"Outbox (mail):     {base}/outbox/" in output
    assert re.search(rf"Preference page:   {re.escape(base)}/preferences/[\w:.-]+/ ", output)
    assert "ada@example.com" not in re.search(r"/preferences/(\S+)", output).group(1)
    # Embedded defaults: SQLite and the filesystem broker under its own var/.
    assert (var / "prefcenter.sqlite3").exists()
    assert "broker filesystem://" in output

    # The web serves the admin with its static files, and the worker delivers queued mail:
    # the pending demo contact's confirmation reaches the outbox page.
    assert fetch(f"{base}/admin/login/")[0] == 200
    assert fetch(f"{base}/static/admin/css/base.css")[0] == 200
    assert wait_for(lambda: "ben@example.com" in fetch(f"{base}/outbox/")[1], 30), "\n".join(
        lines[-40:]
    )

    pids = [int(p) for p in re.findall(r"started (?:web|worker|beat) \(pid (\d+)\)", output)]
    assert len(pids) == 3

    # A visitor signs up through the form: the request only queues a task, and the worker
    # (consuming that queue) mails the confirmation, which shows in the outbox.
    visitor = Visitor(base)
    status, page = visitor.open("/subscribe/")
    topic = re.search(r'name="topics" value="(\d+)"', page).group(1)
    form = {"email": "zoe@example.com", "topics": topic, "consent": "on", "age_confirmed": "on"}
    status, page = visitor.open("/subscribe/", form)
    assert status == 200 and "Check your inbox" in page
    confirmation = wait_for(lambda: outbox_link(base, "zoe@example.com", "transactional"), 60)
    assert confirmation, "\n".join(lines[-40:])
    confirm = link_in(base, confirmation, "confirm")
    visitor.open(confirm)
    status, page = visitor.open(confirm, {})
    assert status == 200 and "You are subscribed" in page

    # A marketer previews the demo campaign in the admin (inert test links) and sends it; the
    # new subscriber's copy arrives, and its unsubscribe page's button unsubscribes at once.
    marketer = Visitor(base)
    marketer.open("/admin/login/")
    status, page = marketer.open(
        "/admin/login/", {"username": "demo", "password": "demo", "next": "/admin/"}
    )
    assert status == 200 and "Dashboard" in page and "Django administration" not in page
    status, page = marketer.open("/admin/subscriptions/campaign/")
    campaign = re.search(r'href="/admin/subscriptions/campaign/(\d+)/change/', page).group(1)
    status, page = marketer.open(f"/admin/subscriptions/campaign/{campaign}/preview/")
    assert status == 200 and "inert test links" in page
    assert "/unsubscribe/" in page and "What&#x27;s new this month" in page
    marketer.open("/admin/subscriptions/campaign/")
    status, page = marketer.open(
        "/admin/subscriptions/campaign/",
        {"action": "send", "_selected_action": campaign, "index": "0"},
    )
    assert status == 200 and "sending started" in page
    mail = wait_for(lambda: outbox_link(base, "zoe@example.com", "marketing"), 60)
    assert mail, "\n".join(lines[-40:])
    unsubscribe = link_in(base, mail, "unsubscribe")
    status, page = visitor.open(unsubscribe)
    assert status == 200 and "<button" in page
    status, page = visitor.open(unsubscribe, {})
    assert status == 200 and "You are unsubscribed" in page

    # The API's docs and schema render.
    assert fetch(f"{base}/api/schema/")[0] == 200
    status, page = fetch(f"{base}/api/docs/")
    assert status == 200 and "swagger" in page.lower()
    assert fetch(f"{base}/api/redoc/")[0] == 200

    # The web's access log, relayed here, keeps no working link (tokens redacted).
    token = re.search(r"/preferences/([\w:.-]+)/ ", output).group(1)
    assert fetch(f"{base}/preferences/{token}/")[0] == 200
    assert wait_for(lambda: any("GET /preferences/[redacted]/" in line for line in lines), 10)
    assert not any(token in line for line in lines if line.lstrip().startswith("web |"))

    process.send_signal(signal.SIGINT)

    assert process.wait(timeout=30) == 0
    assert wait_for(lambda: any("All processes stopped." in line for line in lines), 5)
    # Every child and everything it started (gunicorn and Celery pool processes) is gone.
    assert wait_for(lambda: not any(group_alive(pid) for pid in pids), 5)


@pytest.mark.e2e
def test_it_stops_everything_when_a_process_cannot_start(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "runstack", "--no-seed", "--concurrency", "1"],
            cwd=ROOT,
            env=clean_env(tmp_path, port),
            capture_output=True,
            text=True,
            timeout=90,
        )
    output = result.stdout + result.stderr

    assert result.returncode != 0
    assert "web exited with status" in output
    pids = [int(p) for p in re.findall(r"started (?:web|worker|beat) \(pid (\d+)\)", output)]
    assert len(pids) == 3
    assert not any(group_alive(pid) for pid in pids)


def test_it_defaults_to_debug_and_a_site_url_on_the_port():
    environ = {"PORT": "8123"}

    apply_dev_defaults(environ)

    assert environ["DEBUG"] == "1"
    assert environ["SITE_URL"] == "http://127.0.0.1:8123"


def test_it_takes_the_port_from_the_command_line():
    environ = {"PORT": "8123"}

    apply_dev_defaults(environ, ["--no-seed", "--port", "9001"])

    assert environ["PORT"] == "9001"
    assert environ["SITE_URL"] == "http://127.0.0.1:9001"


def test_it_keeps_what_the_environment_says():
    environ = {"DEBUG": "0", "SITE_URL": "https://prefs.example.com"}

    apply_dev_defaults(environ)

    assert environ["DEBUG"] == "0"
    assert environ["SITE_URL"] == "https://prefs.example.com"
    assert environ["PORT"] == "8000"


def test_it_hides_passwords_in_printed_urls():
    assert _redact("amqp://guest:secret@host:5672/vh") == "amqp://guest:***@host:5672/vh"
    assert _redact("filesystem://") == "filesystem://"


def environment_variables_read() -> set[str]:
    """Every variable the settings and the Celery app read from the environment."""
    names: set[str] = set()
    for path in ("prefcenter/settings.py", "prefcenter/celery.py"):
        source = (ROOT / path).read_text()
        names |= set(
            re.findall(r'env_(?:str|bool|int|float|list|required)\(\s*"([A-Z0-9_]+)"', source)
        )
        names |= set(re.findall(r'os\.environ\.get\(\s*"([A-Z0-9_]+)"', source))
    return names


def test_it_documents_every_setting_read_from_the_environment_in_env_example():
    names = environment_variables_read()
    documented = set(
        re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )

    assert {"SECRET_KEY", "DATABASE_URL", "CELERY_BEAT_SCHEDULE_SECONDS"} <= names
    assert not names - documented, f"add to .env.example: {sorted(names - documented)}"


def test_it_documents_every_setting_read_from_the_environment_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    configuration = readme[readme.index("## Configuration") : readme.index("## Architecture")]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", configuration))

    missing = environment_variables_read() - documented
    assert not missing, f"add to the README's Configuration table: {sorted(missing)}"


def test_it_composes_web_workers_beat_and_services_with_health_checks():
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]

    assert {
        "web",
        "worker-marketing",
        "worker-transactional",
        "beat",
        "postgres",
        "redis",
    } <= set(services)
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    assert (
        services["postgres"]["image"] == "postgres:16" and services["redis"]["image"] == "redis:7"
    )
    for name in ("web", "worker-marketing", "worker-transactional", "beat"):
        service = services[name]
        assert service["env_file"] == ".env"
        for needed in ("postgres", "redis"):
            assert service["depends_on"][needed]["condition"] == "service_healthy"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    # DESIGN's processes: `-Q marketing` and `-Q transactional,webhooks`, each its own `-n`.
    assert "--queues=marketing" in services["worker-marketing"]["command"]
    assert "--queues=transactional,webhooks" in services["worker-transactional"]["command"]
    hostnames = [
        arg
        for name in ("worker-marketing", "worker-transactional")
        for arg in services[name]["command"]
        if arg.startswith("--hostname=")
    ]
    assert len(set(hostnames)) == 2
    # Each worker's health check pings that worker by its own name.
    for name in ("worker-marketing", "worker-transactional"):
        command = services[name]["command"]
        worker = next(a for a in command if a.startswith("--hostname=")).split("=", 1)[1]
        ping = " ".join(services[name]["healthcheck"]["test"])
        assert "inspect ping" in ping
        # `$$` is compose's escape: the container's shell sees $HOSTNAME, Celery's %h.
        assert f"--destination={worker.replace('%h', '$$HOSTNAME')}" in ping
    assert "beat" in services["beat"]["command"]
    # Ready only once the real server listens on TCP: the image's init-time server (while
    # docker/postgres-init-roles.sh creates the roles) listens on the Unix socket alone.
    assert "-h 127.0.0.1" in " ".join(services["postgres"]["healthcheck"]["test"])
    # The owner's credentials reach the one-shot migrate service and nothing that stays up.
    assert services["migrate"]["env_file"] == [".env", ".env.db"]
    assert services["migrate"]["restart"] == "no"


def test_it_declares_every_queue_that_design_names():
    from prefcenter.celery import app

    assert {queue.name for queue in app.conf.task_queues} == {
        "marketing",
        "transactional",
        "webhooks",
    }
