"""The Django admin, one module per area. Importing a module registers its ModelAdmins."""

from . import (
    campaigns,  # noqa: F401  (registers the campaign admin)
    consent,  # noqa: F401  (contacts, topics, subscriptions, suppressions, ledger)
    feedback,  # noqa: F401
)
