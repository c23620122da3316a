"""`manage.py runstack`: the whole product on one machine, for `make run`.

Migrates, seeds the demo, then runs web (gunicorn), one Celery worker for every queue and Celery
beat as child processes, prints where to look, and stops them all on Ctrl-C. With nothing
configured it runs on the embedded defaults (SQLite and a filesystem broker under var/, mail in
the file outbox); with DATABASE_URL, CELERY_BROKER_URL, REDIS_URL set it uses those services.

Each child runs in its own process group, so Ctrl-C reaches only this process, which then asks
every child to stop (SIGTERM), waits, and kills whatever is left of a child's group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from prefcenter.dev_defaults import DEFAULT_PORT

from ...consent.tokens import preferences_token
from ...models import Contact
from .seed_demo import DEMO_PAGE_EMAIL, DEMO_USER

STOP_TIMEOUT = 15.0
READY_TIMEOUT = 90.0


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Command(BaseCommand):
    help = "Migrate, seed the demo and run web + Celery worker + beat until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or DEFAULT_PORT))
        parser.add_argument("--no-seed", action="store_true", help="Skip seed_demo.")
        parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes.")

    def handle(self, *args, **options):
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        host, port = options["host"], options["port"]
        base = f"http://{host}:{port}"
        self.stdout.write(
            f"prefcenter: database {settings.DATABASES['default']['ENGINE']}, "
            f"broker {_redact(settings.CELERY_BROKER_URL)}, DEBUG {settings.DEBUG}"
        )
        call_command("migrate", interactive=False, verbosity=1)
        if not options["no_seed"]:
            call_command("seed_demo")
        # Children open their own connections; SQLite must not see this one held open.
        connections.close_all()

        stop = threading.Event()
        previous = {
            sig: signal.signal(sig, lambda *_: stop.set())
            # SIGHUP: the terminal closed; the children, in their own sessions, would live on.
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }
        children = self._children(host, port, options["concurrency"], settings)
        try:
            for child in children:
                self._start(child)
            if self._wait_ready(f"{base}/healthz", children, stop):
                self._print_urls(base)
            while not stop.is_set():
                dead = [c for c in children if not c.running]
                if dead:
                    code = dead[0].process.returncode
                    raise CommandError(f"{dead[0].name} exited with status {code}; stopping.")
                stop.wait(0.5)
            self.stdout.write("\nStopping…")
        finally:
            _stop_all(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("All processes stopped.")

    def _children(self, host: str, port: int, concurrency: int, settings) -> list[Child]:
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "prefcenter"]
        return [
            Child(
                "web",
                [
                    # The config redacts link tokens and ?email= from the access log.
                    *(python, "-m", "gunicorn", "-c", "python:prefcenter.gunicorn_conf"),
                    "prefcenter.wsgi:application",
                    *("--bind", f"{host}:{port}", "--workers", "2", "--timeout", "60"),
                    *("--access-logfile", "-", "--graceful-timeout", "5", "--no-control-socket"),
                ],
            ),
            Child(
                "worker",
                [
                    *celery,
                    *("worker", "-Q", "marketing,transactional,webhooks", "--loglevel", "INFO"),
                    *("--concurrency", str(concurrency), "--hostname", "runstack@%h"),
                ],
            ),
            Child(
                "beat",
                [
                    *celery,
                    *("beat", "--loglevel", "INFO"),
                    *("--schedule", str(settings.CELERY_BEAT_SCHEDULE_FILENAME)),
                ],
            ),
        ]

    def _start(self, child: Child) -> None:
        child.process = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
            child.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ.copy(),
        )
        self.stdout.write(f"started {child.name} (pid {child.process.pid})")
        threading.Thread(target=self._relay, args=(child,), daemon=True).start()

    def _relay(self, child: Child) -> None:
        """Copy a child's output to ours, each line prefixed with its name."""
        assert child.process is not None and child.process.stdout is not None
        for raw in child.process.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.stdout.write(f"{child.name:>6} | {line}")
            self.stdout.flush()

    def _wait_ready(self, url: str, children: list[Child], stop: threading.Event) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and not stop.is_set():
            if not all(c.running for c in children):
                return False
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            stop.wait(0.5)
        if not stop.is_set():
            self.stderr.write(f"{url} did not answer 200 within {READY_TIMEOUT:.0f} s.")
        return False

    def _print_urls(self, base: str) -> None:
        contact = Contact.objects.active().filter(email_key=DEMO_PAGE_EMAIL).first()
        has_demo_user = get_user_model().objects.filter(username=DEMO_USER).exists()
        demo_login = f"   (login {DEMO_USER} / {DEMO_USER})" if has_demo_user else ""
        lines = [
            "",
            "=" * 72,
            "prefcenter is running.",
            f"  Site:              {base}/subscribe/",
            f"  Health:            {base}/healthz",
            f"  Admin:             {base}/admin/{demo_login}",
            f"  Outbox (mail):     {base}/outbox/",
        ]
        if contact is not None:
            page = reverse("preferences", args=[preferences_token(contact)])
            lines.append(f"  Preference page:   {base}{page}   ({contact.email})")
        if has_demo_user:
            lines.append(f"  Signed-in page:    {base}/account/preferences/   (as {DEMO_USER})")
        lines += ["Press Ctrl-C to stop everything.", "=" * 72, ""]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()


def _stop_all(children: list[Child]) -> None:
    """SIGTERM every child, wait up to STOP_TIMEOUT, then SIGKILL whatever is left of its group."""
    started = [c for c in children if c.process is not None]
    for child in started:
        if child.running:
            try:
                child.process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in started:
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for child in started:
        # The group also holds gunicorn's and Celery's own worker processes.
        try:
            os.killpg(child.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        child.process.wait()


def _redact(url: str) -> str:
    """Hide a password in a service URL before printing it."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _at, location = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{location}"
