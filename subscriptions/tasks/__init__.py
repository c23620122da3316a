from . import ledger, marketing, privacy, retention, transactional  # noqa: F401  (registers the tasks with Celery)
