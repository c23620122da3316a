"""The Django admin, one module per area. Importing a module registers its ModelAdmins; what the
pages share (the staff Actor, the read-only page, the address search) is in admin.base."""

from . import (  # noqa: F401  (registers the admin modules)
    api,
    campaigns,
    contacts,
    feedback,
    imports,
    layouts,
    privacy,
    segments,
    subscriptions,
    test_lists,
    topics,
    transactional,
    webhooks,
)
