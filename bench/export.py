"""Benchmark (not a test): stream a topic's subscribers as CSV (consent.exports), as the API's
`GET /api/v1/topics/{slug}/subscribers.csv` and the console's button do.

    DATABASE_URL=postgres://... python bench/export.py [--rows 1000000] [--small 100000]

Creates `--small` and then `--rows` subscribers of a topic of their own set-based (each with the
ledger row that subscribed them, so the `source` column is looked up for real), exports each in
a child process writing to /dev/null, and prints rows per second and the child's peak RSS: the
two peaks match when memory stays flat. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
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

CREATE = """
WITH topic AS (SELECT id FROM subscriptions_topic WHERE slug = %(slug)s),
contacts AS (
    INSERT INTO subscriptions_contact (email, email_key, address_hash, token_key, locale,
        time_zone, country, attributes, age_confirmed, created_at, updated_at)
    SELECT e, e, md5(e), gen_random_uuid(), 'en', 'UTC', '', '{}', false, now(), now()
      FROM (SELECT %(run)s || '-' || i || '@example.com' AS e
              FROM generate_series(1, %(rows)s) AS i) AS g
    RETURNING id
),
subscribed AS (
    INSERT INTO subscriptions_subscription (contact_id, topic_id, status, legal_basis,
        implied_by, frequency, consented_at, created_at, updated_at)
    SELECT contacts.id, topic.id, 'subscribed', 'consent', '', 'immediate', now(), now(), now()
      FROM contacts, topic
    RETURNING contact_id, topic_id
)
INSERT INTO subscriptions_consentevent (contact_id, topic_id, action, old_status, new_status,
    source, policy_version, wording, user_agent, evidence, actor)
SELECT contact_id, topic_id, 'subscribed', '', 'subscribed', 'import', '', '', '', '', 'bench'
  FROM subscribed
"""


def create(slug: str, rows: int) -> float:
    from django.db import connection, transaction

    from subscriptions.models import Topic

    Topic.objects.create(slug=slug, name=slug)
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(CREATE, {"slug": slug, "run": slug, "rows": rows})
    with connection.cursor() as cursor:  # as autovacuum would after a bulk load
        cursor.execute(
            "ANALYZE subscriptions_contact, subscriptions_subscription, subscriptions_consentevent"
        )
    return time.monotonic() - started


def export_child(slug: str) -> None:
    """In the child: export the topic to /dev/null; print rows, seconds, peak RSS (MB)."""
    import django

    django.setup()
    from subscriptions.consent.exports import subscribers_export, topic_subscriptions
    from subscriptions.models import Topic

    topic = Topic.objects.get(slug=slug)
    started = time.monotonic()
    lines = 0
    with open(os.devnull, "w", encoding="utf-8") as sink:
        for piece in subscribers_export(
            subscriptions=topic_subscriptions(topic), exported_by="bench", what=slug
        ):
            lines += piece.count("\n")
            sink.write(piece)
    seconds = time.monotonic() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": lines - 1, "seconds": seconds, "peak_rss_mb": rss_mb}))


def run_export(slug: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", slug],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        export_child(args.child)
        return

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    results = {}
    for label, rows in (("small", args.small), ("large", args.rows)):
        slug = f"bench-export-{uuid.uuid4().hex[:8]}"
        print(f"creating {rows} subscribers", file=sys.stderr)
        created = create(slug, rows)
        print(f"exporting {rows} subscribers (created in {created:.1f} s)", file=sys.stderr)
        result = run_export(slug)
        assert result["rows"] == rows, result
        results[label] = {
            "rows": rows,
            "seconds": round(result["seconds"], 2),
            "rows_per_s": round(rows / result["seconds"], 1),
            "peak_rss_mb": round(result["peak_rss_mb"], 1),
        }
        print(
            f"{label}: {rows} rows in {result['seconds']:.1f} s = "
            f"{rows / result['seconds']:.0f} rows/s, peak RSS {result['peak_rss_mb']:.1f} MB"
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
                "machine": machine,
            }
        )
    )


if __name__ == "__main__":
    main()
