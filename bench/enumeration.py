"""Enumeration-by-timing benchmark: can the answer time of a public form tell a known address
from an unknown one? (issue 9, road 8). Not a test: a measurement, printed.

    python bench/enumeration.py                    # 1,000 known + 1,000 unknown per form
    python bench/enumeration.py --known 5000 --unknown 5000 --no-worker

It drops and re-creates its own database (DATABASE_URL's name + "_enum"), migrates it, creates
the known contacts set-based (bench/campaign.py's generator: subscribed to one topic, 10%
unsubscribed, 5% suppressed), then starts the app as production runs it — gunicorn on a
loopback port with prefcenter/gunicorn_conf.py, DEBUG off — and, unless --no-worker, one Celery
worker on the transactional queue that does the queued lookups and mail (to a dummy backend).

It posts every known and as many unknown addresses (same shape: bench<N>@example.com) to both
`/subscribe/` and the lost-link form `/preferences/`, interleaved in one random order, and times
each answer at the client. For each form, a random half of the samples trains two classifiers of
"known?" from the latency alone — the best threshold, and a logistic regression on the log of
the latency — and the other half scores them. Chance is 50%; the bar is at most 55%.

The machine (CPU, cores, RAM, Python, PostgreSQL) is printed too; the LAST line is one JSON
object with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.campaign import (  # noqa: E402 (after the path fix above)
    check_hashes_match_python,
    generate_contacts,
    machine,
    recreate_database,
    run_database_url,
    stop_processes,
)

PYTHON = sys.executable
BAR = 0.55
FORMS = ("subscribe", "preferences")


# --- environment ------------------------------------------------------------------------------


def bench_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "prefcenter.settings",
            "DEBUG": "false",
            "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdefghijkl",
            "SUPPRESSION_HASH_KEY": "bench-suppression-key",
            "POSTAL_ADDRESS": "Bench Inc., 1 Example Street, 1000 Example City",
            "ANYMAIL_WEBHOOK_SECRET": "bench:webhook-secret",
            "SITE_URL": "http://127.0.0.1:8000",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            # The per-IP limits would stop one client after ten posts; the per-address limits
            # (in the task) stay on.
            "SUBSCRIBE_RATE_LIMIT": "0/h",
            "PREFERENCE_LINK_RATE_LIMIT_IP": "0/h",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/8")
    env.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/9")
    return env


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_web(env: dict[str, str], port: int, workers: int, workdir: Path) -> subprocess.Popen:
    return start(
        [
            *(PYTHON, "-m", "gunicorn", "-c", "python:prefcenter.gunicorn_conf"),
            *("--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "60"),
            *("--access-logfile", str(workdir / "access.log"), "--no-control-socket"),
            "prefcenter.wsgi:application",
        ],
        env,
        workdir / "web.log",
    )


def start_worker(env: dict[str, str], workdir: Path) -> subprocess.Popen:
    return start(
        [
            *(PYTHON, "-m", "celery", "-A", "prefcenter", "worker", "-Q", "transactional"),
            *("--concurrency", "1", "--loglevel", "WARNING", "-n", "bench-enum@%h"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        ],
        env,
        workdir / "worker.log",
    )


# --- HTTP -------------------------------------------------------------------------------------


class Client:
    """One browser-like visitor: a CSRF cookie and token, then timed form posts."""

    def __init__(self, port: int):
        self.port = port
        status, headers, body = self.request("GET", "/subscribe/")
        if status != 200:
            raise SystemExit(f"GET /subscribe/ answered {status}; see web.log")
        cookie = re.search(r"csrftoken=([^;]+)", headers.get("set-cookie", ""))
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        topic = re.search(r'name="topics" value="(\d+)"', body)
        if not (cookie and token and topic):
            raise SystemExit("could not read the CSRF token or a topic from /subscribe/")
        self.cookie = f"csrftoken={cookie.group(1)}"
        self.token = token.group(1)
        self.topic = topic.group(1)

    def request(self, method: str, path: str, body: str | None = None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read().decode()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()

    def post(self, form: str, email: str) -> tuple[float, int, int]:
        """Post one form; returns (seconds, status, body length)."""
        fields = {"csrfmiddlewaretoken": self.token, "email": email}
        if form == "subscribe":
            fields.update({"topics": self.topic, "consent": "on"})
        body = urlencode(fields)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": self.cookie,
            "Referer": f"http://127.0.0.1:{self.port}/{form}/",
            "Host": "127.0.0.1",
        }
        started = time.perf_counter()
        status, _headers, data = self.request("POST", f"/{form}/", body, headers)
        return time.perf_counter() - started, status, len(data)


def wait_ready(port: int, procs: list[subprocess.Popen], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise SystemExit("a process exited at start; see the logs in the work directory")
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
            if conn.getresponse().status in (200, 503):
                return
        time.sleep(0.3)
    raise SystemExit("the web process did not answer in time")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- classifiers ------------------------------------------------------------------------------


def threshold_classifier(train: list[tuple[float, int]]):
    """The threshold (and side) on latency that best separates known (1) from unknown (0)."""
    ordered = sorted(train)
    total_known = sum(label for _x, label in ordered)
    total = len(ordered)
    best = (0.0, ordered[0][0] - 1, 1)  # accuracy, threshold, side
    known_below = 0
    for index, (latency, label) in enumerate(ordered):
        known_below += label
        below = index + 1
        # side 1: "known" when latency <= threshold; side -1: "known" when latency > threshold.
        accuracy_low = (known_below + (total - below) - (total_known - known_below)) / total
        accuracy_high = 1 - accuracy_low
        for accuracy, side in ((accuracy_low, 1), (accuracy_high, -1)):
            if accuracy > best[0]:
                best = (accuracy, latency, side)
    _accuracy, threshold, side = best

    def predict(latency: float) -> int:
        return int(latency <= threshold) if side == 1 else int(latency > threshold)

    return predict, {
        "threshold_ms": round(threshold * 1000, 3),
        "known_when": "<=" if side == 1 else ">",
    }


def logistic_classifier(train: list[tuple[float, int]]):
    """Logistic regression of "known" on the standardised log latency (Newton's method)."""
    xs = [math.log(x) for x, _y in train]
    mean, sd = statistics.fmean(xs), statistics.pstdev(xs) or 1.0
    data = [((math.log(x) - mean) / sd, y) for x, y in train]
    a = b = 0.0
    for _ in range(50):
        ga = gb = haa = hab = hbb = 0.0
        for x, y in data:
            p = 1 / (1 + math.exp(-(a + b * x)))
            w = p * (1 - p)
            ga += y - p
            gb += (y - p) * x
            haa += w
            hab += w * x
            hbb += w * x * x
        det = haa * hbb - hab * hab
        if det <= 1e-12:
            break
        da = (hbb * ga - hab * gb) / det
        db = (haa * gb - hab * ga) / det
        a, b = a + da, b + db
        if abs(da) + abs(db) < 1e-9:
            break

    def predict(latency: float) -> int:
        return int(a + b * (math.log(latency) - mean) / sd > 0)

    return predict, {"intercept": round(a, 4), "slope": round(b, 4)}


def score(predict, test: list[tuple[float, int]]) -> float:
    return sum(predict(x) == y for x, y in test) / len(test)


def evaluate(samples: list[tuple[float, int]], rng: random.Random) -> dict:
    shuffled = samples[:]
    rng.shuffle(shuffled)
    half = len(shuffled) // 2
    train, test = shuffled[:half], shuffled[half:]
    threshold, threshold_model = threshold_classifier(train)
    logistic, logistic_model = logistic_classifier(train)
    known = [x * 1000 for x, y in samples if y]
    unknown = [x * 1000 for x, y in samples if not y]
    return {
        "samples": len(samples),
        "known_median_ms": round(statistics.median(known), 3),
        "unknown_median_ms": round(statistics.median(unknown), 3),
        "known_p90_ms": round(statistics.quantiles(known, n=10)[-1], 3),
        "unknown_p90_ms": round(statistics.quantiles(unknown, n=10)[-1], 3),
        "threshold_train_accuracy": round(score(threshold, train), 4),
        "threshold_test_accuracy": round(score(threshold, test), 4),
        "threshold_model": threshold_model,
        "logistic_test_accuracy": round(score(logistic, test), 4),
        "logistic_model": logistic_model,
    }


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--known", type=int, default=1000, help="known addresses per form")
    parser.add_argument("--unknown", type=int, default=1000, help="unknown addresses per form")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--no-worker", action="store_true", help="no Celery worker (tasks wait)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--database-url", help="default: DATABASE_URL's name + '_enum'")
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prefcenter")
    if not base.startswith("postgres"):
        raise SystemExit("the benchmark needs PostgreSQL: set DATABASE_URL=postgres://…")
    database_url = args.database_url or run_database_url(
        base, (urlparse(base).path.lstrip("/") or "prefcenter") + "_enum"
    )
    env = bench_env(database_url)
    os.environ.clear()
    os.environ.update(env)
    workdir = Path(tempfile.mkdtemp(prefix="prefcenter-enum-"))
    print(
        f"database {urlparse(database_url).path.lstrip('/')}, work dir {workdir}", file=sys.stderr
    )
    recreate_database(database_url)
    subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    import django

    django.setup()
    from django.core.cache import cache

    from prefcenter.celery import app
    from subscriptions.models import Topic

    cache.clear()  # rate-limit windows of an earlier run (the per-address limits stay on)
    topic = Topic.objects.create(slug="bench-news", name="Bench news")
    generate_contacts(args.known, topic.pk)
    check_hashes_match_python()
    app.control.purge()

    rng = random.Random(args.seed)
    # Same shape for all: bench<i>@example.com, known i in 1..K. Each form gets its own unknown
    # addresses: a sign-up creates its contact, which would then be known to the other form.
    known = [f"bench{i}@example.com" for i in range(1, args.known + 1)]
    plan = [(form, email, 1) for form in FORMS for email in known]
    for n, form in enumerate(FORMS):
        first = args.known + n * args.unknown + 1
        plan += [(form, f"bench{i}@example.com", 0) for i in range(first, first + args.unknown)]
    rng.shuffle(plan)

    port = free_port()
    procs = [start_web(env, port, args.web_workers, workdir)]
    if not args.no_worker:
        procs.append(start_worker(env, workdir))
    try:
        wait_ready(port, procs)
        client = Client(port)
        # Warm both forms (imports, connections, template caches) with addresses not measured.
        for n in range(40):
            client.post(FORMS[n % 2], f"warmup{n}@example.org")
        samples: dict[str, list[tuple[float, int]]] = {form: [] for form in FORMS}
        answers: dict[str, set] = {form: set() for form in FORMS}
        print(f"posting {len(plan):,} forms …", file=sys.stderr)
        started = time.perf_counter()
        for form, email, label in plan:
            seconds, status, length = client.post(form, email)
            if status != 200:
                raise SystemExit(f"POST /{form}/ answered {status}; see web.log")
            samples[form].append((seconds, label))
            answers[form].add((status, length))
        elapsed = time.perf_counter() - started
        queued_left = None
        if not args.no_worker:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with app.connection_for_write() as conn:
                    queued_left = conn.default_channel.client.llen("transactional")
                if queued_left == 0:
                    break
                time.sleep(0.5)
    finally:
        stop_processes(procs)

    from subscriptions.models import Contact, TransactionalMessage

    results = {form: evaluate(samples[form], rng) for form in FORMS}
    worst = max(
        max(r["threshold_test_accuracy"], r["logistic_test_accuracy"]) for r in results.values()
    )
    figures = {
        "known_per_form": args.known,
        "unknown_per_form": args.unknown,
        "requests": len(plan),
        "requests_per_s": round(len(plan) / elapsed, 1),
        "worker": not args.no_worker,
        "queued_tasks_left": queued_left,
        "contacts_after": Contact.objects.count(),
        "transactional_messages": TransactionalMessage.objects.count(),
        "distinct_answers": {form: len(answers[form]) for form in FORMS},
        "forms": results,
        "best_test_accuracy": worst,
        "bar": BAR,
        "passed": worst <= BAR,
        "machine": machine(),
    }
    print_report(figures)


def print_report(f: dict) -> None:
    m = f["machine"]
    print(
        f"machine: {m['cpus']} CPUs {m['cpu_model']}, {m['ram_gb']} GB RAM, Python {m['python']}, "
        f"PostgreSQL {m['postgres']}, load {m['load_avg_1m']}"
    )
    print(
        f"{f['requests']:,} posts ({f['known_per_form']:,} known + {f['unknown_per_form']:,} "
        f"unknown per form, random order) at {f['requests_per_s']} req/s; worker: {f['worker']}; "
        f"distinct answers per form (status, length): {f['distinct_answers']}"
    )
    print(
        f"after the run: {f['contacts_after']:,} contacts, {f['transactional_messages']:,} "
        f"transactional messages, {f['queued_tasks_left']} tasks still queued"
    )
    for form, r in f["forms"].items():
        print(
            f"/{form}/: median known {r['known_median_ms']} ms vs unknown "
            f"{r['unknown_median_ms']} ms (p90 {r['known_p90_ms']} / {r['unknown_p90_ms']}); "
            f"held-out accuracy: threshold {r['threshold_test_accuracy']:.1%} "
            f"(train {r['threshold_train_accuracy']:.1%}), logistic "
            f"{r['logistic_test_accuracy']:.1%}"
        )
    verdict = "PASS" if f["passed"] else "FAIL"
    print(f"best held-out accuracy {f['best_test_accuracy']:.1%} (bar {f['bar']:.0%}): {verdict}")
    print(json.dumps(f))


if __name__ == "__main__":
    main()
