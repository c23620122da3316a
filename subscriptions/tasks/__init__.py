from . import ledger, marketing, privacy, public_forms, retention, transactional  # noqa: F401  (registers the tasks with Celery)
