"""The statements of one import chunk: every row of the staging table decided and written at once.

Each statement works on the session's staging table (`import_staging`, a temporary table:
unlogged, private to the connection, emptied at every commit). A row's `outcome` stays NULL
while it is still to be decided; each step settles some rows. Rule 5 is enforced by the
statement that writes subscriptions (its WHERE and its ON CONFLICT ... WHERE), not only by the
classification before it, so a person who unsubscribes while a chunk runs is never overwritten.
"""

# Every statement is built from vocabulary constants (models/choices.py) and table names only;
# every value from a file or a caller is a query parameter.
# ruff: noqa: S608
from __future__ import annotations

from collections import Counter

from ...models import Import
from ...models.choices import (
    Action,
    ImportMode,
    ImportRowOutcome,
    Source,
    SubscriptionStatus,
    SuppressionReason,
    suppression_default_scope,
)
from ...models.policy import current_policy_version

Outcome = ImportRowOutcome

STAGING_CREATE = """
CREATE TEMPORARY TABLE IF NOT EXISTS import_staging (
    line bigint NOT NULL,
    email text,
    email_key text,
    hash text NOT NULL,
    legacy_hash text,
    external_id text,
    locale text,
    attributes jsonb,
    contact_id bigint,
    created boolean NOT NULL DEFAULT false,
    old_status text,
    outcome text,
    detail text,
    event_id bigint
) ON COMMIT DELETE ROWS
"""
# The joins back from each statement's RETURNING rows find their staging row by these; without
# them the planner, blind to a CTE's size, may loop over the whole chunk once per row.
STAGING_INDEXES = (
    "CREATE INDEX IF NOT EXISTS import_staging_contact ON import_staging (contact_id)",
    "CREATE INDEX IF NOT EXISTS import_staging_hash ON import_staging (hash)",
    "CREATE INDEX IF NOT EXISTS import_staging_key ON import_staging (email_key)",
)
STAGING_COPY = (
    "COPY import_staging (line, email, email_key, hash, legacy_hash, external_id, locale, "
    "attributes) FROM STDIN"
)
REPORT_COPY = "COPY subscriptions_importrowerror (run_id, line, outcome, email, detail) FROM STDIN"
# Rows kept in the per-row report besides the invalid ones copied straight from the parse.
REPORTED = (
    Outcome.INVALID,
    Outcome.DUPLICATE,
    Outcome.KEPT_UNSUBSCRIBED,
    Outcome.KEPT_SUPPRESSED,
    Outcome.NOT_FOUND,
)
# The report names the address only where the product holds it anyway as a contact's, or as
# typed when it is not one: never a suppressed (perhaps erased) address, never in suppress mode.
REPORT_SELECT = f"""
SELECT line, outcome,
       CASE WHEN outcome IN ('{Outcome.INVALID}', '{Outcome.KEPT_UNSUBSCRIBED}')
            THEN COALESCE(email, '') ELSE '' END,
       COALESCE(detail, '')
FROM import_staging
WHERE outcome IN ({", ".join(f"'{o}'" for o in REPORTED)})
ORDER BY line
"""

# --- shared steps ----------------------------------------------------------------------------

# Last row wins: an address listed again (any case, quoted or not: one hash) further down.
DEDUPE = f"""
UPDATE import_staging s
SET outcome = '{Outcome.DUPLICATE}', detail = 'same address as line ' || later.line
FROM (SELECT hash, max(line) AS line FROM import_staging GROUP BY hash HAVING count(*) > 1) later
WHERE s.hash = later.hash AND s.line < later.line
"""

# Any version's hash of the address, or an older spelling its contact keeps: what
# Suppression.objects.for_address matches. Erasure leaves an `erased` suppression: matched too.
# (Run after CONTACTS_FIND, which sets the contact of a known address.)
SUPPRESSED = """
(EXISTS (SELECT 1 FROM subscriptions_suppression x WHERE x.address_hash = s.hash)
 OR (s.legacy_hash IS NOT NULL
     AND EXISTS (SELECT 1 FROM subscriptions_suppression x WHERE x.address_hash = s.legacy_hash))
 OR (s.contact_id IS NOT NULL
     AND EXISTS (SELECT 1 FROM subscriptions_contactaddresshash a
                 JOIN subscriptions_suppression x ON x.address_hash = a.address_hash
                 WHERE a.contact_id = s.contact_id)))
"""

KEEP_SUPPRESSED = f"""
UPDATE import_staging s SET outcome = '{Outcome.KEPT_SUPPRESSED}'
WHERE s.outcome IS NULL AND {SUPPRESSED}
"""

CONTACTS_FIND = """
UPDATE import_staging s SET contact_id = c.id
FROM subscriptions_contact c
WHERE c.email_key = s.email_key AND c.erased_at IS NULL AND c.merged_into_id IS NULL
  AND s.outcome IS NULL AND s.contact_id IS NULL
"""

EXTERNAL_ID_TAKEN = f"""
UPDATE import_staging s
SET outcome = '{Outcome.INVALID}', detail = 'external_id belongs to another contact'
WHERE s.outcome IS NULL AND s.external_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM subscriptions_contact c
              WHERE c.external_id = s.external_id AND c.id IS DISTINCT FROM s.contact_id)
"""

EXTERNAL_ID_TWICE = f"""
UPDATE import_staging s
SET outcome = '{Outcome.INVALID}', detail = 'external_id given again on line ' || later.line
FROM (SELECT external_id, max(line) AS line FROM import_staging
      WHERE outcome IS NULL AND external_id IS NOT NULL
      GROUP BY external_id HAVING count(*) > 1) later
WHERE s.outcome IS NULL AND s.external_id = later.external_id AND s.line < later.line
"""

CONTACTS_CREATE = """
WITH inserted AS (
    INSERT INTO subscriptions_contact (
        email, email_key, address_hash, token_key, external_id, locale, time_zone, country,
        attributes, age_confirmed, created_at, updated_at)
    SELECT s.email, s.email_key, s.hash, gen_random_uuid(), s.external_id,
           COALESCE(s.locale, 'en'), 'UTC', '', COALESCE(s.attributes, '{}'::jsonb), false,
           now(), now()
    FROM import_staging s
    WHERE s.outcome IS NULL AND s.contact_id IS NULL
    ON CONFLICT (email_key) DO NOTHING
    RETURNING id, email_key
)
UPDATE import_staging s SET contact_id = i.id, created = true
FROM inserted i
WHERE s.email_key = i.email_key AND s.outcome IS NULL
"""

# A contact created concurrently by someone else between find and create: not ours to count.
CONTACTS_UNPLACED = f"""
UPDATE import_staging s
SET outcome = '{Outcome.INVALID}', detail = 'the address changed while importing; import it again'
WHERE s.outcome IS NULL AND s.contact_id IS NULL
"""

ALIASES_CREATE = """
INSERT INTO subscriptions_contactaddresshash (contact_id, address_hash, version)
SELECT s.contact_id, s.legacy_hash, 1 FROM import_staging s
WHERE s.created AND s.legacy_hash IS NOT NULL
ON CONFLICT DO NOTHING
"""

# Only what changes is written: a second run of the same file updates nothing.
CONTACTS_UPDATE = """
UPDATE subscriptions_contact c
SET external_id = COALESCE(s.external_id, c.external_id),
    locale = COALESCE(s.locale, c.locale),
    attributes = c.attributes || COALESCE(s.attributes, '{}'::jsonb),
    updated_at = now()
FROM import_staging s
WHERE c.id = s.contact_id AND NOT s.created AND s.outcome IS NULL
  AND (c.external_id IS DISTINCT FROM COALESCE(s.external_id, c.external_id)
       OR c.locale IS DISTINCT FROM COALESCE(s.locale, c.locale)
       OR c.attributes IS DISTINCT FROM c.attributes || COALESCE(s.attributes, '{}'::jsonb))
"""

# --- subscribe mode --------------------------------------------------------------------------

# A pending row that was unsubscribed before is a re-subscribe awaiting the person's own
# confirmation: still an opt-out (consent.subscriptions._opted_out).
UNSUBSCRIBED_BEFORE = f"""
EXISTS (SELECT 1 FROM subscriptions_consentevent e
        WHERE e.contact_id = {{sub}}.contact_id AND e.topic_id = {{sub}}.topic_id
          AND e.new_status = '{SubscriptionStatus.UNSUBSCRIBED}')
"""

SUBSCRIPTIONS_CLASSIFY = f"""
UPDATE import_staging s
SET old_status = sub.status,
    outcome = CASE
        WHEN sub.status = '{SubscriptionStatus.SUBSCRIBED}' THEN '{Outcome.ALREADY_SUBSCRIBED}'
        WHEN sub.status = '{SubscriptionStatus.UNSUBSCRIBED}' THEN '{Outcome.KEPT_UNSUBSCRIBED}'
        WHEN {UNSUBSCRIBED_BEFORE.format(sub="sub")} THEN '{Outcome.KEPT_UNSUBSCRIBED}'
    END
FROM subscriptions_subscription sub
WHERE sub.contact_id = s.contact_id AND sub.topic_id = %(topic)s AND s.outcome IS NULL
"""

# Rule 5, in the statement: never for a suppressed address, never over an unsubscribe (only a
# pending request with no opt-out before it is turned into a subscription).
SUBSCRIBE = f"""
WITH written AS (
    INSERT INTO subscriptions_subscription (
        contact_id, topic_id, status, legal_basis, implied_by, implied_at, frequency,
        paused_until, consented_at, created_at, updated_at)
    SELECT s.contact_id, %(topic)s, '{SubscriptionStatus.SUBSCRIBED}', %(legal_basis)s, '',
           NULL, %(frequency)s, NULL, now(), now(), now()
    FROM import_staging s
    WHERE s.outcome IS NULL AND s.contact_id IS NOT NULL AND NOT {SUPPRESSED}
    ON CONFLICT (contact_id, topic_id) DO UPDATE
    SET status = EXCLUDED.status, legal_basis = EXCLUDED.legal_basis, implied_by = '',
        implied_at = NULL,
        frequency = CASE WHEN subscriptions_subscription.frequency = ANY(%(offered)s)
                         THEN subscriptions_subscription.frequency ELSE EXCLUDED.frequency END,
        paused_until = NULL, consented_at = now(), updated_at = now()
    WHERE subscriptions_subscription.status = '{SubscriptionStatus.PENDING}'
      AND NOT {UNSUBSCRIBED_BEFORE.format(sub="subscriptions_subscription")}
    RETURNING contact_id
)
UPDATE import_staging s SET outcome = '{Outcome.SUBSCRIBED}'
FROM written w
WHERE s.contact_id = w.contact_id AND s.outcome IS NULL
"""

# Whoever the statement above refused changed their mind while the chunk ran.
SUBSCRIBE_REFUSED = f"""
UPDATE import_staging SET outcome = '{Outcome.KEPT_UNSUBSCRIBED}' WHERE outcome IS NULL
"""

# One ledger row per actual change, chained by the ledger's insert trigger exactly as
# ledger.record's rows are (the trigger sets id, created_at, xact_id, prev_hash and hash).
LEDGER_SUBSCRIBED = f"""
WITH written AS (
    INSERT INTO subscriptions_consentevent (
        contact_id, topic_id, action, old_status, new_status, source, policy_version, wording,
        ip_address, user_agent, evidence, actor, staff_user_id, campaign_id)
    SELECT s.contact_id, %(topic)s, '{Action.SUBSCRIBED}', COALESCE(s.old_status, ''),
           '{SubscriptionStatus.SUBSCRIBED}', '{Source.IMPORT}', %(policy_version)s, '', NULL, '',
           %(evidence)s, %(actor)s, %(staff_user)s, NULL
    FROM import_staging s
    WHERE s.outcome = '{Outcome.SUBSCRIBED}'
    ORDER BY s.contact_id
    RETURNING id, contact_id
)
UPDATE import_staging s SET event_id = w.id FROM written w
WHERE s.contact_id = w.contact_id AND s.outcome = '{Outcome.SUBSCRIBED}'
"""

# --- suppress mode ---------------------------------------------------------------------------

ALREADY_SUPPRESSED = f"""
UPDATE import_staging s SET outcome = '{Outcome.ALREADY_SUPPRESSED}'
WHERE s.outcome IS NULL AND EXISTS (
    SELECT 1 FROM subscriptions_suppression x
    WHERE x.address_hash IN (s.hash, s.legacy_hash) AND x.reason = %(reason)s
      AND (x.scope = %(scope)s OR x.scope = 'all'))
"""

SUPPRESS = f"""
WITH written AS (
    INSERT INTO subscriptions_suppression (
        address_hash, hash_version, reason, scope, source, note, created_by_id, created_at)
    SELECT s.hash, 2, %(reason)s, %(scope)s, '{Source.IMPORT}', %(note)s, %(staff_user)s, now()
    FROM import_staging s WHERE s.outcome IS NULL
    ON CONFLICT (address_hash, reason) DO UPDATE SET scope = EXCLUDED.scope
    WHERE subscriptions_suppression.scope <> EXCLUDED.scope AND EXCLUDED.scope = 'all'
    RETURNING address_hash
)
UPDATE import_staging s SET outcome = '{Outcome.SUPPRESSED}'
FROM written w WHERE s.hash = w.address_hash AND s.outcome IS NULL
"""

SUPPRESS_REST = f"""
UPDATE import_staging SET outcome = '{Outcome.ALREADY_SUPPRESSED}' WHERE outcome IS NULL
"""

# The active contact of a newly suppressed hash gets its ledger row, as suppression_add writes.
LEDGER_SUPPRESSED = f"""
WITH written AS (
    INSERT INTO subscriptions_consentevent (
        contact_id, topic_id, action, old_status, new_status, source, policy_version, wording,
        ip_address, user_agent, evidence, actor, staff_user_id, campaign_id)
    SELECT c.id, NULL, %(action)s, '', %(reason)s, '{Source.IMPORT}', %(policy_version)s, '',
           NULL, '', %(evidence)s, %(actor)s, %(staff_user)s, NULL
    FROM import_staging s
    JOIN subscriptions_contact c
      ON c.address_hash = s.hash AND c.erased_at IS NULL AND c.merged_into_id IS NULL
    WHERE s.outcome = '{Outcome.SUPPRESSED}'
    ORDER BY c.id
    RETURNING id, contact_id
)
UPDATE import_staging s SET contact_id = w.contact_id, event_id = w.id
FROM written w JOIN subscriptions_contact c ON c.id = w.contact_id
WHERE s.hash = c.address_hash AND s.outcome = '{Outcome.SUPPRESSED}'
"""

# --- attributes mode -------------------------------------------------------------------------

NOT_FOUND = f"""
UPDATE import_staging SET outcome = '{Outcome.NOT_FOUND}', detail = 'no contact with this address'
WHERE outcome IS NULL AND contact_id IS NULL
"""

ATTRIBUTES_SETTLE = f"""
UPDATE import_staging SET outcome = '{Outcome.UNCHANGED}' WHERE outcome IS NULL
"""


def staging_create(cursor) -> None:
    cursor.execute(STAGING_CREATE)
    for statement in STAGING_INDEXES:
        cursor.execute(statement)


def _params(run: Import) -> dict:
    topic = run.topic
    return {
        "topic": run.topic_id,
        "legal_basis": run.legal_basis,
        "frequency": topic.default_frequency if topic else "",
        "offered": topic.offered_frequencies if topic else [],
        "reason": run.reason,
        "scope": suppression_default_scope(run.reason) if run.reason else "",
        "action": Action.UNSUBSCRIBED_ALL
        if run.reason == SuppressionReason.UNSUBSCRIBED_ALL
        else Action.SUPPRESSED,
        "note": f"import {run.pk}: {run.source}",
        "policy_version": current_policy_version(),
        "evidence": ledger_evidence(run),
        "actor": f"import:{run.source}"[:150],
        "staff_user": run.created_by_id,
    }


def ledger_evidence(run: Import) -> str:
    """What each ledger row an import writes says of it (the import's id included)."""
    basis = f" legal_basis={run.legal_basis}" if run.mode == ImportMode.SUBSCRIBE else ""
    return f"import:{run.source}{basis} import_id={run.pk}"


def _contacts_place(cursor, params: dict) -> int:
    """Find or create the contact of every undecided row; returns how many were updated."""
    cursor.execute(EXTERNAL_ID_TAKEN, params)
    cursor.execute(EXTERNAL_ID_TWICE, params)
    cursor.execute(CONTACTS_CREATE, params)
    cursor.execute(CONTACTS_FIND, params)  # a concurrent creator's row: found now
    cursor.execute(CONTACTS_UNPLACED, params)
    cursor.execute(ALIASES_CREATE, params)
    cursor.execute(CONTACTS_UPDATE, params)
    return cursor.rowcount


def chunk_events_written(cursor, run: Import) -> None:
    """The one place outbound events of a chunk are written (issue 14), in its transaction.

    The ledger rows this chunk wrote are `SELECT e.* FROM import_staging s JOIN
    subscriptions_consentevent e ON e.id = s.event_id` (each also carries
    `import_id=<run.pk>` in its evidence). Nothing to do until the outbox exists.
    """


def chunk_apply(cursor, run: Import, *, first: bool = True) -> Counter:
    """Decide and write every row now in staging; returns the counts by outcome."""
    params = _params(run)
    if first:  # a chunk looks like the next: the planner's statistics of one serve them all
        cursor.execute("ANALYZE import_staging")
    cursor.execute(DEDUPE, params)
    counts: Counter = Counter()
    if run.mode == ImportMode.SUBSCRIBE:
        cursor.execute(CONTACTS_FIND, params)
        cursor.execute(KEEP_SUPPRESSED, params)
        counts["updated"] = _contacts_place(cursor, params)
        cursor.execute(SUBSCRIPTIONS_CLASSIFY, params)
        cursor.execute(SUBSCRIBE, params)
        cursor.execute(SUBSCRIBE_REFUSED, params)
        cursor.execute(LEDGER_SUBSCRIBED, params)
    elif run.mode == ImportMode.SUPPRESS:
        cursor.execute(ALREADY_SUPPRESSED, params)
        cursor.execute(SUPPRESS, params)
        cursor.execute(SUPPRESS_REST, params)
        cursor.execute(LEDGER_SUPPRESSED, params)
    else:
        cursor.execute(CONTACTS_FIND, params)
        cursor.execute(NOT_FOUND, params)
        counts["updated"] = _contacts_place(cursor, params)
        cursor.execute(ATTRIBUTES_SETTLE, params)
    chunk_events_written(cursor, run)
    cursor.execute(
        "SELECT outcome, count(*), count(*) FILTER (WHERE created) FROM import_staging "
        "GROUP BY outcome"
    )
    for outcome, number, created in cursor.fetchall():
        counts[outcome] += number
        counts["created"] += created
    if run.mode == ImportMode.ATTRIBUTES:  # settled as one outcome; the updated ones are counted
        counts[Outcome.UNCHANGED] -= counts["updated"]
    return counts


def staging_report(cursor, run: Import) -> list[tuple]:
    """The report rows of the chunk in staging, as (line, outcome, email, detail)."""
    cursor.execute(REPORT_SELECT)
    return [tuple(row) for row in cursor.fetchall()]


def staging_report_write(cursor, run: Import) -> None:
    cursor.execute(
        "INSERT INTO subscriptions_importrowerror (run_id, line, outcome, email, detail) "
        f"SELECT %(run)s, r.* FROM ({REPORT_SELECT}) r",
        {"run": run.pk},
    )
