"""Consent's queued work: the public forms (/subscribe/ and the lost-link form at /preferences/)
and the ledger's periodic checkpoint.

Their views only validate the form and the per-IP limit, then enqueue one task here and answer
the same page: every lookup, per-address limit and mail happens in the worker, so the request
path does the same work for a known, a subscribed and an unknown address (issue 9, road 8).
Tasks are adapters: plain data in, one service called.
"""

from __future__ import annotations

from functools import partial

from celery import shared_task
from django.db import DatabaseError, transaction

from ..addresses import InvalidAddress
from ..models import Topic
from . import importing, ledger
from .ledger import Actor
from .notifications import preference_link_request
from .signup import signup_request

# A web request must not hang on a dead broker: one quick retry, then the view answers 503.
PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
QUEUE = "transactional"


class BrokerUnavailable(Exception):
    """The task could not be handed to the broker; nothing was queued."""


def actor_data(by: Actor) -> dict:
    """The JSON-safe part of an Actor a public form records (no staff user on these pages)."""
    return {
        "source": by.source,
        "ip_address": by.ip_address,
        "user_agent": by.user_agent,
        "wording": by.wording,
        "policy_version": by.policy_version,
    }


def publish(task, kwargs: dict) -> None:
    """Hand one task to the broker, failing fast. Raises BrokerUnavailable."""
    try:
        task.apply_async(kwargs=kwargs, queue=QUEUE, retry=True, retry_policy=PUBLISH_RETRY_POLICY)
    except Exception as problem:  # kombu's OperationalError, a refused or reset socket...
        raise BrokerUnavailable(str(problem)) from problem


def enqueue(task, **kwargs) -> None:
    """Queue `task(**kwargs)` once the current transaction commits (at once outside one).

    Outside a transaction (a view) a dead broker raises BrokerUnavailable here.
    """
    transaction.on_commit(partial(publish, task, kwargs))


@shared_task(
    name="subscriptions.tasks.public_forms.signup",
    acks_late=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=5,
)
def signup(
    *, email: str, topic_ids: list[int], locale: str, age_confirmed: bool, actor: dict
) -> None:
    # A topic closed between the request and now is left out, as the form would have.
    topics = list(Topic.objects.filter(is_active=True, pk__in=topic_ids).order_by("pk"))
    if not topics:
        return
    try:
        signup_request(
            email=email,
            topics=topics,
            by=Actor(**actor),
            locale=locale,
            age_confirmed=age_confirmed,
        )
    except InvalidAddress:
        pass  # the form accepted it; a stricter canonical form since then refuses it silently


@shared_task(
    name="subscriptions.tasks.public_forms.preference_link",
    acks_late=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=5,
)
def preference_link(*, email: str) -> None:
    preference_link_request(email=email)


# Run by beat every few minutes: seals what the ledger gained since the last checkpoint.
@shared_task(name="subscriptions.tasks.ledger.checkpoint_ledger", acks_late=True)
def checkpoint_ledger() -> int | None:
    checkpoint = ledger.ledger_checkpoint()
    return checkpoint.pk if checkpoint else None


# Queued by importing.import_start once its transaction commits (by name: see import_enqueue).
@shared_task(name="subscriptions.tasks.import_run", acks_late=True)
def import_run(*, import_id: int) -> str:
    return importing.import_run(import_id).status
