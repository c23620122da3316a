from . import api, privacy  # noqa: F401  (registers the admin modules)
