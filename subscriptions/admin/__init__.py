"""The Django admin, one module per area. Importing a module registers its ModelAdmins."""

from . import consent  # noqa: F401
