"""Campaign benchmark: audience build, end-to-end send through real Celery workers, peak RSS,
and the same workload through django-post-office, on this machine, in one run.

    pip install -e '.[test,bench]'          # psutil, django-post-office
    python bench/campaign.py                # 100,000 contacts, Anymail Postmark -> local fake
    python bench/campaign.py --contacts 1000000
    python bench/campaign.py --sink smtp    # Django's SMTP backend -> local SMTP sink
    python bench/campaign.py --segment --contacts 1000000 --audience-only   # issue 12, bar 2

It drops and re-creates its own database (the name of DATABASE_URL's database + "_run", e.g.
pc_bench_run), migrates it, creates the contacts set-based in PostgreSQL (INSERT ... SELECT
generate_series; 10% unsubscribed, 5% suppressed, the rest subscribed), builds the campaign's
audience with subscriptions.campaigns.audience.campaign_build_audience (timed), then starts TWO
`celery -A prefcenter worker -Q marketing --concurrency 1` processes and times the send until
no delivery is pending or claimed, sampling the workers' process trees' RSS with psutil.
Then it queues the same messages (rendered by the same builder, same headers) with
post_office.mail.send_many and times `manage.py send_queued_mail --processes 2`.

With --segment the contacts differ in locale, country and a `plan` attribute, the campaign
carries SEGMENT_RULES (a saved Segment), and the run also times the segment's count
(segment_count_s: what the console and the API show) next to the topic's plain count; the
audience build then inserts only the segment, in the same statement.

Duplicates and ineligible recipients are counted from what the fake ESP / sink received,
loaded into PostgreSQL. The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PYTHON = sys.executable
CELERY = str(Path(sys.executable).with_name("celery"))
BENCH_TOPIC = "bench-news"
SERVER_TOKEN = "bench-server-token"  # noqa: S105 (the local fake accepts any token)
# --segment: (Danish speakers OR contacts in Denmark or Sweden) AND on the "pro" plan; with the
# mix generate_contacts() makes, about 17% of the marketable contacts.
SEGMENT_RULES = {
    "match": "all",
    "groups": [
        {
            "match": "any",
            "conditions": [
                {"field": "locale", "op": "equals", "value": "da"},
                {"field": "country", "op": "in", "value": ["DK", "SE"]},
            ],
        },
        {
            "match": "all",
            "conditions": [{"field": "attributes.plan", "op": "equals", "value": "pro"}],
        },
    ],
}
# The same selection written by hand over the generated columns, to check the compiled one.
OUTSIDE_SEGMENT_SQL = (
    "NOT ((c.locale = 'da' OR c.country IN ('DK', 'SE')) AND c.attributes->>'plan' = 'pro')"
)


# --- environment ------------------------------------------------------------------------------


def run_database_url(base: str, name: str | None) -> str:
    parsed = urlparse(base)
    db = name or (parsed.path.lstrip("/") or "prefcenter") + "_run"
    return urlunparse(parsed._replace(path="/" + db))


def bench_env(database_url: str, transport: dict[str, str]) -> dict[str, str]:
    """The environment shared by this process, the workers and post_office's sender."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "bench.post_office_settings",
            # DEBUG off: no query log growing in the workers, production-like behaviour.
            "DEBUG": "false",
            "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdefghijkl",
            "SUPPRESSION_HASH_KEY": "bench-suppression-key",
            "POSTAL_ADDRESS": "Bench Inc., 1 Example Street, 1000 Example City",
            "ANYMAIL_WEBHOOK_SECRET": "bench:webhook-secret",
            "SITE_URL": "https://prefs.example.com",
            "SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
            **transport,
        }
    )
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/8")
    env.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/9")
    return env


def recreate_database(database_url: str) -> None:
    import psycopg

    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")


# --- the local fakes --------------------------------------------------------------------------


class Fake:
    """A fake ESP / SMTP sink subprocess with an HTTP control port."""

    def __init__(self, kind: str, workdir: Path):
        self.kind = kind
        self.log = workdir / f"received-{kind}.tsv"
        script = "postmark.py" if kind == "postmark" else "smtp_sink.py"
        self.proc = subprocess.Popen(
            [PYTHON, str(ROOT / "tests" / "fakes" / script), "--log", str(self.log)],
            stdout=subprocess.PIPE,
            text=True,
        )
        words = self.proc.stdout.readline().split()
        if not words or words[0] != "PORT":
            raise RuntimeError(f"the {kind} fake did not start")
        self.port = int(words[1])
        self.control = int(words[3]) if len(words) > 3 else self.port

    def transport(self) -> dict[str, str]:
        if self.kind == "postmark":
            return {
                "MARKETING_EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
                "ANYMAIL_POSTMARK_SERVER_TOKEN": SERVER_TOKEN,
                "ANYMAIL_POSTMARK_API_URL": f"http://127.0.0.1:{self.port}/",
            }
        return {
            "MARKETING_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.port),
        }

    def _call(self, path: str, method: str = "GET") -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.control}{path}",
            method=method,
            data=b"" if method == "POST" else None,
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def phase(self, name: str) -> None:
        self._call(f"/_phase?name={name}", "POST")

    def stats(self) -> dict:
        return self._call("/_stats")

    def stop(self) -> None:
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        if self.proc.poll() is None:
            self.proc.kill()


# --- RSS sampling -----------------------------------------------------------------------------


class RssSampler(threading.Thread):
    """Samples the RSS of each given process tree (parent + children) every `every` seconds."""

    def __init__(self, pids: list[int], every: float = 0.2):
        super().__init__(daemon=True)
        self.pids = pids
        self.every = every
        self.peak_tree = dict.fromkeys(pids, 0)  # bytes, per process tree
        self.peak_process = 0  # bytes, the largest single process
        self.stopping = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.stopping.is_set():
            for pid in self.pids:
                try:
                    root = psutil.Process(pid)
                    procs = [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
                total = 0
                for proc in procs:
                    try:
                        rss = proc.memory_info().rss
                    except psutil.Error:
                        continue
                    total += rss
                    self.peak_process = max(self.peak_process, rss)
                self.peak_tree[pid] = max(self.peak_tree[pid], total)
            self.stopping.wait(self.every)

    def stop(self) -> dict:
        self.stopping.set()
        self.join()
        mb = 1024 * 1024
        return {
            "tree_peak_mb": round(max(self.peak_tree.values(), default=0) / mb, 1),
            "process_peak_mb": round(self.peak_process / mb, 1),
        }


# --- data -------------------------------------------------------------------------------------

# Contact i (1..N): i % 10 == 0 unsubscribed (10%), i % 20 == 1 suppressed (5%, disjoint).
CONTACT_I = "split_part(substr({col}, 6), '@', 1)::bigint"


def ineligible_by_construction(col: str) -> str:
    """SQL: true when the address is not a bench contact, or one generated ineligible."""
    i = CONTACT_I.format(col=col)
    return (
        f"CASE WHEN {col} ~ '^bench[0-9]+@example[.]com$' "
        f"THEN (mod({i}, 10) = 0 OR mod({i}, 20) = 1) ELSE true END"
    )


def generate_contacts(n: int, topic_id: int, varied: bool = False) -> None:
    """N contacts with a subscription each, set-based; the address hash computed in SQL.

    `varied` (for --segment): a quarter speak Danish, countries cycle through DK, SE, GB, US,
    DE, and a third are on the "pro" plan (attribute `plan`); otherwise all alike."""
    from django.conf import settings
    from django.db import connection

    key = settings.SUPPRESSION_HASH_KEY
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO subscriptions_contact (email, email_key, address_hash, token_key,
                locale, time_zone, country, attributes, age_confirmed, created_at, updated_at)
            SELECT e, e, encode(hmac(e, %s, 'sha256'), 'hex'), gen_random_uuid(),
                CASE WHEN %s AND mod(i, 4) = 0 THEN 'da' ELSE 'en' END, 'UTC',
                CASE WHEN %s THEN (ARRAY['DK', 'SE', 'GB', 'US', 'DE'])[mod(i, 5) + 1] ELSE '' END,
                CASE WHEN %s THEN jsonb_build_object('first_name', 'Reader ' || i,
                    'plan', CASE WHEN mod(i, 3) = 0 THEN 'pro' ELSE 'free' END)
                ELSE jsonb_build_object('first_name', 'Reader ' || i) END,
                false, now(), now()
            FROM (SELECT i, 'bench' || i || '@example.com' AS e
                  FROM generate_series(1, %s) AS i) AS g
            """,
            [key, varied, varied, varied, n],
        )
        cur.execute(
            f"""
            INSERT INTO subscriptions_subscription (contact_id, topic_id, status, legal_basis,
                implied_by, frequency, consented_at, created_at, updated_at)
            SELECT id, %s, CASE WHEN mod(i, 10) = 0 THEN 'unsubscribed' ELSE 'subscribed' END,
                'consent', '', 'immediate', now(), now(), now()
            FROM (SELECT id, {CONTACT_I.format(col="email")} AS i
                  FROM subscriptions_contact) AS c
            """,
            [topic_id],
        )
        cur.execute(
            f"""
            INSERT INTO subscriptions_suppression (address_hash, reason, scope, source, note,
                hash_version, created_at)
            SELECT address_hash, 'manual', 'marketing', 'bench', '', 2, now()
            FROM (SELECT address_hash, {CONTACT_I.format(col="email")} AS i
                  FROM subscriptions_contact) AS c
            WHERE mod(i, 20) = 1
            """
        )
        cur.execute("ANALYZE")


def check_hashes_match_python() -> None:
    """The SQL-computed address hash must be the application's own (else suppression fails)."""
    from subscriptions.addresses import address_hash
    from subscriptions.models import Contact

    for contact in Contact.objects.order_by("pk")[:3]:
        if contact.address_hash != address_hash(contact.email):
            raise SystemExit("address hashes computed in SQL differ from the application's")


CAMPAIGN_HTML = """<html><head><style>
  p { font-family: Georgia, serif; font-size: 16px; color: #222; }
  .cta { background: #0b5; color: #fff; padding: 8px 14px; text-decoration: none; }
</style></head><body>
<p>Hello {{ contact.attributes.first_name|default:"there" }},</p>
<p>Here is this month's news from {{ organization_name }}: three new guides, one webinar and
the answers to the questions you sent us.</p>
<p><a class="cta" href="https://example.com/news">Read the news</a></p>
</body></html>"""

CAMPAIGN_TEXT = """Hello {{ contact.attributes.first_name|default:"there" }},

Here is this month's news from {{ organization_name }}: three new guides, one webinar and
the answers to the questions you sent us.

Read the news: https://example.com/news"""


# --- workers ----------------------------------------------------------------------------------


def start_workers(n: int, env: dict[str, str], workdir: Path) -> list[subprocess.Popen]:
    workers = []
    worker_env = {**env, "DJANGO_SETTINGS_MODULE": "prefcenter.settings"}
    for index in range(n):
        log = (workdir / f"worker{index}.log").open("w")
        workers.append(
            subprocess.Popen(
                [
                    CELERY,
                    "-A",
                    "prefcenter",
                    "worker",
                    "-Q",
                    "marketing",
                    "--concurrency",
                    "1",
                    "--pool",
                    "prefork",
                    "--loglevel",
                    "WARNING",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    f"bench{index}@%h",
                ],
                cwd=ROOT,
                env=worker_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return workers


def wait_workers_ready(workers: list[subprocess.Popen], timeout: float = 60) -> None:
    from prefcenter.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(w.poll() is not None for w in workers):
            raise SystemExit("a Celery worker exited at start; see its log in the work directory")
        replies = app.control.ping(timeout=1.0) or []
        if len(replies) >= len(workers):
            return
    raise SystemExit("the Celery workers did not answer a ping in time")


def stop_processes(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


# --- phases -----------------------------------------------------------------------------------


def send_campaign(
    campaign,
    workers_n: int,
    env,
    workdir: Path,
    fake: Fake,
    timeout: float,
    send_seconds: float | None = None,
):
    from prefcenter.celery import app
    from subscriptions.campaigns import lifecycle, stats
    from subscriptions.campaigns.tasks import fan_out
    from subscriptions.models import Delivery
    from subscriptions.models.choices import DeliveryStatus

    app.control.purge()
    workers = start_workers(workers_n, env, workdir)
    try:
        wait_workers_ready(workers)
        fake.phase("campaign")
        sampler = RssSampler([w.pid for w in workers])
        sampler.start()
        started = time.perf_counter()
        # The audience is already built (timed apart): start without re-building it.
        lifecycle.campaign_start(campaign=campaign, enqueue=False)
        fan_out(campaign.pk, max(workers_n * 2, 2))
        open_work = Delivery.objects.filter(
            campaign=campaign, status__in=[DeliveryStatus.PENDING, DeliveryStatus.CLAIMED]
        )
        last_report = started
        cancelled = False
        while open_work.exists():
            if send_seconds and not cancelled and time.perf_counter() - started > send_seconds:
                # A sample of a long send: cancel; in-flight batches finish or release.
                lifecycle.campaign_cancel(campaign=campaign)
                cancelled = True
            if time.perf_counter() - started > timeout:
                raise SystemExit(f"the campaign did not finish within {timeout:.0f} s")
            if any(w.poll() is not None for w in workers):
                raise SystemExit("a Celery worker died during the send; see its log")
            time.sleep(0.2)
            if time.perf_counter() - last_report > 10:
                last_report = time.perf_counter()
                print(f"  … {fake.stats()['messages']} messages received", file=sys.stderr)
        elapsed = time.perf_counter() - started
        rss = sampler.stop()
    finally:
        stop_processes(workers)
    return elapsed, rss, stats.campaign_stats(campaign)


def post_office_workload(campaign, limit: int | None) -> tuple[int, float]:
    """Queue the same messages (same builder, bodies and headers) with post_office."""
    from post_office import mail

    from subscriptions.campaigns.messages import build_marketing_message, compile_campaign
    from subscriptions.models import Delivery
    from subscriptions.models.choices import DeliveryStatus

    compiled = compile_campaign(campaign)
    deliveries = (
        Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT)
        .select_related("contact")
        .order_by("pk")
    )
    if limit:
        deliveries = deliveries[:limit]
    started = time.perf_counter()
    queued = 0
    chunk: list[dict] = []
    for delivery in deliveries.iterator(chunk_size=2000):
        message = build_marketing_message(
            campaign=campaign, contact=delivery.contact, compiled=compiled, delivery_id=delivery.pk
        )
        html = next((c for c, mime in message.alternatives if mime == "text/html"), "")
        chunk.append(
            {
                "recipients": message.to,
                "sender": message.from_email,
                "subject": message.subject,
                "message": message.body,
                "html_message": html,
                "headers": message.extra_headers,
            }
        )
        if len(chunk) >= 2000:
            queued += len(mail.send_many(chunk))
            chunk = []
    if chunk:
        queued += len(mail.send_many(chunk))
    return queued, time.perf_counter() - started


def post_office_send(env, workdir: Path, processes: int, timeout: float):
    proc = subprocess.Popen(
        [
            PYTHON,
            str(ROOT / "manage.py"),
            "send_queued_mail",
            "--processes",
            str(processes),
            "--lockfile",
            str(workdir / "post_office"),
        ],
        cwd=ROOT,
        env=env,
        stdout=(workdir / "post_office.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    sampler = RssSampler([proc.pid])
    sampler.start()
    started = time.perf_counter()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        stop_processes([proc])
        raise SystemExit(f"post_office did not finish within {timeout:.0f} s") from None
    elapsed = time.perf_counter() - started
    rss = sampler.stop()
    if proc.returncode != 0:
        raise SystemExit("send_queued_mail failed; see post_office.log in the work directory")
    from post_office.models import STATUS, Email

    return elapsed, rss, Email.objects.filter(status=STATUS.sent).count()


# --- what the fake received -------------------------------------------------------------------


def load_received(fake: Fake) -> None:
    from django.db import connection

    fake.stats()  # flushes the log
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE bench_received (phase text, endpoint text, email text, "
            "campaign text, delivery text)"
        )
        with cur.copy("COPY bench_received FROM STDIN") as copy, fake.log.open("rb") as f:
            while block := f.read(1 << 20):
                copy.write(block)
        cur.execute("CREATE INDEX ON bench_received (phase, email)")
        cur.execute("ANALYZE bench_received")


def received_counts(phase: str, campaign) -> dict:
    """Duplicates and ineligible recipients among what the fake received in `phase`."""
    from django.db import connection

    from subscriptions.models import Contact

    eligible_sql, params = (
        Contact.objects.marketable(campaign.topic)
        .order_by()
        .values("email_key")
        .query.sql_with_params()
    )
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*), count(DISTINCT email) FROM bench_received WHERE phase = %s", [phase]
        )
        received, distinct = cur.fetchone()
        # Ineligible twice over: not in marketable() now, or ineligible by construction.
        cur.execute(
            f"""
            SELECT count(*) FROM bench_received r
            WHERE r.phase = %s AND (
                NOT EXISTS (SELECT 1 FROM ({eligible_sql}) m WHERE m.email_key = r.email)
                OR {ineligible_by_construction("r.email")}
            )
            """,
            [phase, *params],
        )
        ineligible = cur.fetchone()[0]
        cur.execute(
            "SELECT endpoint, count(*) FROM bench_received WHERE phase = %s GROUP BY 1", [phase]
        )
        endpoints = dict(cur.fetchall())
    return {
        "received": received,
        "duplicates": received - distinct,
        "sent_to_ineligible": ineligible,
        "endpoints": endpoints,
    }


# --- machine ----------------------------------------------------------------------------------


def machine() -> dict:
    from django.db import connection

    model = platform.processor() or "unknown"
    ram_kb = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_kb = int(line.split()[1])
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg = cur.fetchone()[0]
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": round(ram_kb / 1024**2, 1),
        "python": platform.python_version(),
        "postgres": pg,
        "platform": platform.platform(),
        # Other work on the machine skews every figure: the 1-minute load at the end.
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--sink", choices=["postmark", "smtp"], default="postmark")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--database-url",
        help="where to create the benchmark database (default: DATABASE_URL's name + '_run')",
    )
    parser.add_argument(
        "--post-office-limit",
        type=int,
        default=None,
        help="queue at most this many messages for post_office (default: the whole audience "
        "up to 20,000: its rate is per message; 0 skips post_office)",
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds per send phase")
    parser.add_argument(
        "--send-seconds",
        type=float,
        default=None,
        help="cancel the campaign after this many seconds of sending (a sample of a long send, "
        "e.g. to see the workers' RSS at 1,000,000 contacts in a few minutes)",
    )
    parser.add_argument(
        "--segment",
        action="store_true",
        help="narrow the campaign by a saved segment (SEGMENT_RULES): times its count and its "
        "audience build (segment_count_s, segment_audience_s)",
    )
    parser.add_argument(
        "--audience-only",
        action="store_true",
        help="stop after the audience build (time the 1,000,000 audience without the send)",
    )
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prefcenter")
    if not base.startswith("postgres"):
        raise SystemExit("the benchmark needs PostgreSQL: set DATABASE_URL=postgres://…")
    database_url = args.database_url or run_database_url(base, None)
    workdir = Path(tempfile.mkdtemp(prefix="prefcenter-bench-"))
    fake = Fake(args.sink, workdir)
    try:
        env = bench_env(database_url, fake.transport())
        os.environ.clear()
        os.environ.update(env)
        print(
            f"database {urlparse(database_url).path.lstrip('/')}, work dir {workdir}",
            file=sys.stderr,
        )
        recreate_database(database_url)
        subprocess.run(
            [PYTHON, str(ROOT / "manage.py"), "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        import django

        django.setup()
        figures = run(args, env, workdir, fake)
    finally:
        fake.stop()
    print_report(figures)


def time_segment(topic) -> dict:
    """The segment's count as the console and the API take it (segment_count), and the topic's
    plain count (marketable().count(), as the campaign's Review step takes it without one)."""
    from subscriptions.campaigns.segments import segment_count, segment_save
    from subscriptions.models import Contact

    segment = segment_save(name="Bench segment", topic=topic, rules=SEGMENT_RULES)
    print("counting the topic and the segment …", file=sys.stderr)
    t = time.perf_counter()
    marketable = Contact.objects.marketable(topic).count()
    marketable_s = time.perf_counter() - t
    # Twice: the first read after the bulk load also sets the rows' hint bits (disk writes);
    # the repeat is what a marketer editing the segment sees on each change.
    times = []
    for _attempt in range(2):
        t = time.perf_counter()
        count = segment_count(rules=segment.rules, topic=topic)
        times.append(time.perf_counter() - t)
    return {
        "segment": segment,
        "marketable": marketable,
        "marketable_count_s": marketable_s,
        "count": count,
        "count_first_s": times[0],
        "count_s": times[1],
    }


def deliveries_outside_segment(campaign) -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM subscriptions_delivery d "
            "JOIN subscriptions_contact c ON c.id = d.contact_id "
            f"WHERE d.campaign_id = %s AND {OUTSIDE_SEGMENT_SQL}",
            [campaign.pk],
        )
        return cur.fetchone()[0]


def run(args, env, workdir: Path, fake: Fake) -> dict:
    from subscriptions.campaigns.audience import campaign_build_audience
    from subscriptions.models import Campaign, Topic

    topic = Topic.objects.create(slug=BENCH_TOPIC, name="Bench news")
    print(f"creating {args.contacts:,} contacts …", file=sys.stderr)
    t = time.perf_counter()
    generate_contacts(args.contacts, topic.pk, varied=args.segment)
    contacts_s = time.perf_counter() - t
    check_hashes_match_python()
    segment = time_segment(topic) if args.segment else None

    campaign = Campaign.objects.create(
        name="Bench campaign",
        topic=topic,
        subject="News for {{ contact.attributes.first_name|default:'you' }}",
        html_body=CAMPAIGN_HTML,
        text_body=CAMPAIGN_TEXT,
        segment=segment["segment"] if segment else None,
    )
    print("building the audience …", file=sys.stderr)
    t = time.perf_counter()
    audience = campaign_build_audience(campaign=campaign)
    audience_s = time.perf_counter() - t
    again = campaign_build_audience(campaign=campaign)  # idempotent: adds nobody
    if segment:
        segment["outside"] = deliveries_outside_segment(campaign)
    if args.audience_only:
        return {
            "args": args,
            "machine": machine(),
            "contacts_s": contacts_s,
            "audience": audience,
            "audience_again": again,
            "audience_s": audience_s,
            "segment": segment,
        }

    print(f"sending {audience:,} messages through {args.workers} workers …", file=sys.stderr)
    send_s, worker_rss, stats = send_campaign(
        campaign, args.workers, env, workdir, fake, args.timeout, args.send_seconds
    )
    campaign_fake = fake.stats()

    limit = args.post_office_limit
    if limit is None:
        limit = min(stats["sent"], 20_000)
    po = {"messages": 0, "queue_s": None, "send_s": None, "rss": {}, "sent": 0}
    if limit:
        print(f"post_office: queueing {limit:,} messages …", file=sys.stderr)
        queued, queue_s = post_office_workload(campaign, limit)
        fake.phase("post_office")
        print(f"post_office: sending {queued:,} messages with 2 processes …", file=sys.stderr)
        po_send_s, po_rss, po_sent = post_office_send(env, workdir, 2, args.timeout)
        po = {
            "messages": queued,
            "queue_s": queue_s,
            "send_s": po_send_s,
            "rss": po_rss,
            "sent": po_sent,
        }
    load_received(fake)
    counts = received_counts("campaign", campaign)
    po_counts = received_counts("post_office", campaign) if limit else {}
    return {
        "args": args,
        "machine": machine(),
        "contacts_s": contacts_s,
        "audience": audience,
        "audience_again": again,
        "audience_s": audience_s,
        "send_s": send_s,
        "stats": stats,
        "worker_rss": worker_rss,
        "fake": campaign_fake,
        "counts": counts,
        "po": po,
        "po_counts": po_counts,
        "segment": segment,
    }


def segment_rows(f: dict) -> list[tuple[str, str]]:
    seg = f.get("segment")
    if not seg:
        return []
    return [
        (
            "topic count (no segment)",
            f"{seg['marketable']:,} in {seg['marketable_count_s']:.2f} s",
        ),
        (
            "segment count",
            f"{seg['count']:,} in {seg['count_s']:.2f} s (first after the load "
            f"{seg['count_first_s']:.2f} s)",
        ),
        (
            "segment audience build",
            f"{f['audience']:,} in {f['audience_s']:.2f} s (one statement per range)",
        ),
        ("built outside the segment", f"{seg['outside']}"),
    ]


def segment_summary(f: dict) -> dict:
    seg = f.get("segment")
    if not seg:
        return {}
    return {
        "segment_count": seg["count"],
        "segment_count_s": round(seg["count_s"], 3),
        "segment_count_first_s": round(seg["count_first_s"], 3),
        "segment_audience_s": round(f["audience_s"], 3),
        "topic_count_s": round(seg["marketable_count_s"], 3),
        "built_outside_segment": seg["outside"],
    }


def print_audience_only(f: dict) -> None:
    m = f["machine"]
    print()
    print("prefcenter audience build")
    print(f"  machine   {m['cpus']} CPUs · {m['cpu_model']} · {m['ram_gb']} GB RAM")
    print(f"  software  Python {m['python']} · PostgreSQL {m['postgres']}")
    print(f"  contacts  {f['args'].contacts:,} (created in {f['contacts_s']:.1f} s)")
    print(
        f"  audience  {f['audience']:,} built in {f['audience_s']:.2f} s "
        f"(re-run added {f['audience_again']})"
    )
    for key, value in segment_rows(f):
        print(f"  {key}  {value}")
    summary = {
        "contacts": f["args"].contacts,
        "audience": f["audience"],
        "audience_build_s": round(f["audience_s"], 3),
        "messages_per_s": None,
        "worker_peak_rss_mb": None,
        "post_office_messages_per_s": None,
        "duplicates": None,
        "sent_to_ineligible": None,
        **segment_summary(f),
        "machine": m,
    }
    print(json.dumps(summary))


def print_report(f: dict) -> None:
    if f["args"].audience_only:
        print_audience_only(f)
        return
    args, m, stats, counts, po = f["args"], f["machine"], f["stats"], f["counts"], f["po"]
    rate = stats["sent"] / f["send_s"] if f["send_s"] else 0.0
    po_rate = po["messages"] / po["send_s"] if po["send_s"] else None
    po_rate_incl_queue = po["messages"] / (po["send_s"] + po["queue_s"]) if po["send_s"] else None
    transport = (
        "Anymail Postmark backend -> local fake Postmark API"
        if args.sink == "postmark"
        else "Django SMTP backend -> local SMTP sink"
    )
    rows = [
        ("machine", f"{m['cpus']} CPUs · {m['cpu_model']} · {m['ram_gb']} GB RAM"),
        ("software", f"Python {m['python']} · PostgreSQL {m['postgres']}"),
        ("load average (1 min)", f"{m['load_avg_1m']} at the end of the run"),
        ("transport", transport),
        ("contacts", f"{args.contacts:,} (created in {f['contacts_s']:.1f} s)"),
        ("audience (marketable)", f"{f['audience']:,} (re-run added {f['audience_again']})"),
        ("audience build", f"{f['audience_s']:.2f} s"),
        ("workers", f"{args.workers} x celery worker -Q marketing --concurrency 1"),
        ("end-to-end send", f"{stats['sent']:,} sent in {f['send_s']:.1f} s"),
        ("messages per second", f"{rate:,.0f}"),
        ("ESP endpoints used", ", ".join(f"{k}: {v:,}" for k, v in counts["endpoints"].items())),
        ("skipped / failed", f"{stats['skipped']:,} / {stats['failed']:,}"),
        (
            "worker peak RSS",
            f"{f['worker_rss'].get('tree_peak_mb')} MB per worker (parent + child), "
            f"largest process {f['worker_rss'].get('process_peak_mb')} MB",
        ),
        ("received / duplicates", f"{counts['received']:,} / {counts['duplicates']}"),
        ("sent to ineligible", f"{counts['sent_to_ineligible']}"),
        *segment_rows(f),
    ]
    if po_rate is not None:
        pc = f["po_counts"]
        rows += [
            (
                "post_office messages",
                f"{po['messages']:,} queued in {po['queue_s']:.1f} s "
                f"(send_many, not timed), {po['sent']:,} sent",
            ),
            ("post_office send_queued_mail", f"{po['send_s']:.1f} s with --processes 2"),
            (
                "post_office messages/s",
                f"{po_rate:,.0f} (incl. queueing {po_rate_incl_queue:,.0f})",
            ),
            ("post_office peak RSS", f"{po['rss'].get('tree_peak_mb')} MB (all processes)"),
            ("post_office dup / ineligible", f"{pc['duplicates']} / {pc['sent_to_ineligible']}"),
            ("speed-up vs post_office", f"{rate / po_rate:.1f}x"),
        ]
    width = max(len(k) for k, _ in rows)
    print()
    print("prefcenter campaign benchmark")
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")
    summary = {
        "contacts": args.contacts,
        "sink": args.sink,
        "audience": f["audience"],
        "audience_build_s": round(f["audience_s"], 3),
        "send_s": round(f["send_s"], 2),
        "send_cancelled_after_s": args.send_seconds,
        "sent": stats["sent"],
        "messages_per_s": round(rate, 1),
        "worker_peak_rss_mb": f["worker_rss"].get("tree_peak_mb"),
        "worker_peak_process_rss_mb": f["worker_rss"].get("process_peak_mb"),
        "post_office_messages": po["messages"],
        "post_office_messages_per_s": round(po_rate, 1) if po_rate else None,
        "post_office_duplicates": f["po_counts"].get("duplicates"),
        "speedup_vs_post_office": round(rate / po_rate, 1) if po_rate else None,
        "duplicates": counts["duplicates"],
        "sent_to_ineligible": counts["sent_to_ineligible"],
        "received": counts["received"],
        "endpoints": counts["endpoints"],
        **segment_summary(f),
        "machine": m,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(summary, sort_keys=False))


if __name__ == "__main__":
    main()
