from . import api, campaigns, privacy  # noqa: F401  (registers the admin modules)
