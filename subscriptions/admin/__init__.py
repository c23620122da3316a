from . import api  # noqa: F401  (registers the API key admin)
