from . import privacy  # noqa: F401  (registers the privacy admin)
