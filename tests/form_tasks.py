"""Running the public forms' queued tasks in unit tests, as the transactional worker would."""

from __future__ import annotations

from functools import partial

from django.db import connection

from subscriptions.consent import tasks as public_forms


def run_queued_form_tasks() -> int:
    """Do what the transactional worker does with the public forms' queued tasks.

    The views queue them with transaction.on_commit; inside a test's transaction they wait in
    the connection's on-commit list. This takes them off it and calls each task function
    directly (no broker), leaving every other callback in place. Returns how many ran.
    """
    ours = [
        callback
        for _sids, callback, _robust in connection.run_on_commit
        if isinstance(callback, partial) and callback.func is public_forms.publish
    ]
    connection.run_on_commit[:] = [item for item in connection.run_on_commit if item[1] not in ours]
    for callback in ours:
        task, kwargs = callback.args
        task(**kwargs)
    return len(ours)
