from . import marketing, transactional  # noqa: F401  (registers the tasks with Celery)
