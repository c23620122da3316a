"""Benchmark (not a test): import a generated CSV through `manage.py import_contacts`.

    DATABASE_URL=postgres://... python bench/import.py [--rows 1000000] [--small 100000]

Generates a CSV of `--rows` rows (1% of them already unsubscribed, 0.5% suppressed, 0.1%
invalid), imports it in a child process, and prints rows per second and the child's peak RSS;
then imports the same file again (it must change nothing: no ledger row, and run faster). A
first import of `--small` rows shows that peak memory does not grow with the file. Checks that
nobody unsubscribed or suppressed was subscribed. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
for name, value in {
    "DJANGO_SETTINGS_MODULE": "prefcenter.settings",
    "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdefghijklmnop",
    "SUPPRESSION_HASH_KEY": "bench-suppression-hash-key",
    "POSTAL_ADDRESS": "Example Inc., 1 Bench Street, 1000 Benchville",
    "ANYMAIL_WEBHOOK_SECRET": "bench:webhook-secret",
}.items():
    os.environ.setdefault(name, value)


def generate(path: Path, *, rows: int, run: str) -> dict[str, list[str]]:
    """Write the CSV; return the addresses that must not end up subscribed."""
    unsubscribed, suppressed = [], []
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("email,first_name,locale,plan\n")
        for n in range(rows):
            email = f"bench-{run}-{n}@example.com"
            if n % 1000 == 999:
                out.write(f"not-an-address-{n},Broken,en,free\n")
                continue
            if n % 100 == 7:
                unsubscribed.append(email)
            elif n % 200 == 11:
                suppressed.append(email)
            out.write(f"{email},Person {n},{'da' if n % 3 == 0 else 'en'},pro\n")
    return {"unsubscribed": unsubscribed, "suppressed": suppressed}


def prepare(topic_slug: str, opted_out: dict[str, list[str]]) -> None:
    from subscriptions.consent.contacts import contact_get_or_create
    from subscriptions.consent.ledger import Actor
    from subscriptions.consent.subscriptions import subscription_unsubscribe
    from subscriptions.consent.suppression import suppression_add
    from subscriptions.models import Topic

    topic = Topic.objects.create(slug=topic_slug, name=f"Bench {topic_slug}")
    actor = Actor(source="preference_page")
    for email in opted_out["unsubscribed"]:
        contact, _ = contact_get_or_create(email=email)
        subscription_unsubscribe(contact=contact, topic=topic, by=actor)
    for email in opted_out["suppressed"]:
        suppression_add(email=email, reason="hard_bounce", by=Actor(source="admin"))


def run_import(path: Path, topic_slug: str) -> tuple[float, float, int]:
    """Import in a child process; return (seconds, peak RSS in MB, exit status)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "import_contacts",
            str(path),
            "--topic",
            topic_slug,
            "--source",
            "bench",
            "--no-progress",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    _pid, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    summary = child.stdout.read().decode().strip() if child.stdout else ""
    print(f"  {summary}", file=sys.stderr)
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def _state(ConsentEvent, Contact, Subscription) -> dict[str, int]:
    """What a second run must leave as it was: row counts, and the last update of each table."""
    from django.db.models import Max

    def last_update(model) -> int:
        latest = model.objects.aggregate(latest=Max("updated_at"))["latest"]
        return int(latest.timestamp() * 1e6) if latest else 0

    return {
        "ledger_rows": ConsentEvent.objects.count(),
        "contacts": Contact.objects.count(),
        "subscriptions": Subscription.objects.count(),
        "contact_last_update_us": last_update(Contact),
        "subscription_last_update_us": last_update(Subscription),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from subscriptions.models import ConsentEvent, Contact, Subscription

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, rows in (("small", args.small), ("large", args.rows)):
            run = uuid.uuid4().hex[:8]
            path = Path(tmp) / f"{label}.csv"
            opted_out = generate(path, rows=rows, run=run)
            slug = f"bench-import-{run}"
            prepare(slug, opted_out)
            print(f"importing {rows} rows ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
            seconds, rss, status = run_import(path, slug)
            leaked = Subscription.objects.filter(
                topic__slug=slug,
                status="subscribed",
                contact__email__in=opted_out["unsubscribed"] + opted_out["suppressed"],
            ).count()
            before = _state(ConsentEvent, Contact, Subscription)
            print("importing the same file again", file=sys.stderr)
            again, again_rss, _status = run_import(path, slug)
            after = _state(ConsentEvent, Contact, Subscription)
            results[label] = {
                "rows": rows,
                "seconds": round(seconds, 2),
                "rows_per_s": round(rows / seconds, 1),
                "peak_rss_mb": round(rss, 1),
                "exit_status": status,
                "opted_out_subscribed": leaked,
                "second_seconds": round(again, 2),
                "second_rows_per_s": round(rows / again, 1),
                "second_peak_rss_mb": round(again_rss, 1),
                "second_speedup": round(seconds / again, 2),
                "second_changed": {k: after[k] - before[k] for k in before},
            }
            print(
                f"{label}: {rows} rows in {seconds:.1f} s = {rows / seconds:.0f} rows/s, "
                f"peak RSS {rss:.1f} MB, exit status {status} (invalid rows present), "
                f"opted-out subscribed: {leaked}; again: {again:.1f} s = "
                f"{rows / again:.0f} rows/s ({seconds / again:.1f}x faster), peak RSS "
                f"{again_rss:.1f} MB, changed: {results[label]['second_changed']}"
            )

    with connection.cursor() as cursor:
        cursor.execute("select version()")
        database = cursor.fetchone()[0].split(",")[0]
    machine = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "database": database,
    }
    print(f"machine: {machine}")
    large, small = results["large"], results["small"]
    print(
        json.dumps(
            {
                "rows": large["rows"],
                "rows_per_s": large["rows_per_s"],
                "peak_rss_mb": large["peak_rss_mb"],
                "small_rows": small["rows"],
                "small_peak_rss_mb": small["peak_rss_mb"],
                "opted_out_subscribed": large["opted_out_subscribed"]
                + small["opted_out_subscribed"],
                "second_rows_per_s": large["second_rows_per_s"],
                "second_speedup": large["second_speedup"],
                "second_ledger_rows": large["second_changed"]["ledger_rows"],
                # What differs after the second run (0: it changed nothing).
                "second_changes": sum(1 for v in large["second_changed"].values() if v),
                "machine": machine,
            }
        )
    )


if __name__ == "__main__":
    main()
