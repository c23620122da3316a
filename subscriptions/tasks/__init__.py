from . import privacy, retention  # noqa: F401  (registers the tasks with Celery)
