from . import ledger, marketing, privacy, public_forms, retention  # noqa: F401  (registers the tasks with Celery)
