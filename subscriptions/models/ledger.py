from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from .campaigns import Campaign
from .choices import Action, Source
from .contacts import Contact, Topic

# Fields holding personal data: the only ones that may ever change, and only to empty, when a
# contact is erased or the retention job minimises old rows. The database enforces this.
PERSONAL_FIELDS = ("ip_address", "user_agent", "evidence")

# The facts each row's hash covers, in this order (see subscriptions.consent.ledger.row_digest and the
# trigger of migration 0009, which must agree). Never a PERSONAL_FIELDS name: blanking those
# must keep the chain valid. A new fact column is added here and to the trigger together.
HASHED_FIELDS = (
    "prev_hash",
    "id",
    "contact_id",
    "topic_id",
    "action",
    "old_status",
    "new_status",
    "source",
    "policy_version",
    "wording",
    "actor",
    "staff_user_id",
    "created_at",
)


class ConsentEvent(models.Model):
    """Append-only proof of every consent change (GDPR art. 7(1)).

    Written only by subscriptions.consent.ledger.record; never updated or deleted by the application. On
    PostgreSQL and SQLite a trigger refuses UPDATE and DELETE, except blanking PERSONAL_FIELDS.

    On PostgreSQL a BEFORE INSERT trigger (migration 0009) sets `id`, `created_at`, `xact_id`,
    `prev_hash` and `hash`, whatever the insert supplied: rows of one contact form a hash chain
    in id order, and the app's role (which does not own the table) cannot back-date, TRUNCATE,
    or switch the triggers off. `manage.py verify_ledger` recomputes it all.
    """

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="consent_events")
    topic = models.ForeignKey(
        Topic, null=True, blank=True, on_delete=models.PROTECT, related_name="consent_events"
    )
    action = models.CharField(max_length=30, choices=Action)
    old_status = models.CharField(max_length=40, blank=True)
    new_status = models.CharField(max_length=40, blank=True)
    source = models.CharField(max_length=30, choices=Source)
    policy_version = models.CharField(max_length=40, blank=True)
    # The consent wording shown to the person when they acted.
    wording = models.TextField(blank=True)
    # Minimised at write time (IPv4 /24, IPv6 /48); blanked by retention and erasure.
    ip_address = models.CharField(max_length=64, null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    evidence = models.TextField(blank=True)
    # Who acted on the person's behalf: "api:<key name>", "import:<source>", a staff username.
    actor = models.CharField(max_length=150, blank=True)
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The campaign whose unsubscribe or preference link the person used, if any: attribution for
    # the campaign's statistics, not part of the consent itself (who, what, when, how), so it is
    # kept out of HASHED_FIELDS and every row written before the column existed keeps verifying.
    # Migration 0014's append-only trigger still refuses any change to it once written.
    campaign = models.ForeignKey(
        Campaign,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="consent_events",
        editable=False,
    )
    # Set by the database (clock_timestamp() in the insert trigger): the app cannot back-date.
    created_at = models.DateTimeField(db_default=Now(), db_index=True, editable=False)
    # The inserting transaction (pg_current_xact_id): checkpoints cover finished transactions.
    xact_id = models.BigIntegerField(db_default=0, db_index=True, editable=False)
    # sha256 of HASHED_FIELDS, chained to the contact's previous row ("" for the first).
    prev_hash = models.CharField(max_length=64, db_default="", editable=False)
    hash = models.CharField(max_length=64, db_default="", editable=False)

    class Meta:
        # Marketer words in the console: the ledger is "Consent history".
        verbose_name = _("consent history entry")
        verbose_name_plural = _("consent history")
        ordering = ["created_at", "id"]
        indexes = [
            # The insert trigger finds a contact's chain head; verify_ledger walks each chain.
            models.Index(fields=["contact", "id"], name="consentevent_chain_idx"),
        ]

    def __str__(self) -> str:
        topic = self.topic.slug if self.topic_id else "all"
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} ({topic}) via {self.source}"


class LedgerCheckpoint(models.Model):
    """A seal over every ledger row written by transactions in [xact_from, xact_to).

    Written by subscriptions.consent.ledger.ledger_checkpoint (a beat task) once all those transactions
    have finished, so a row committed late is never missed; chained to the previous checkpoint.
    Append-only like the ledger: deleting or altering any covered row breaks its checkpoint.
    """

    xact_from = models.BigIntegerField()
    xact_to = models.BigIntegerField(unique=True)
    row_count = models.BigIntegerField()
    last_event_id = models.BigIntegerField(null=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        verbose_name = _("ledger checkpoint")
        verbose_name_plural = _("ledger checkpoints")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"checkpoint {self.pk}: {self.row_count} rows, {self.hash[:12]}"
