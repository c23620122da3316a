"""The Django admin, one module per area. Importing a module registers its ModelAdmins."""

from . import (  # noqa: F401  (registers the admin modules)
    api,
    campaigns,
    consent,
    feedback,
    privacy,
)
