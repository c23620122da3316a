"""The Django admin, one module per area. Importing a module registers its ModelAdmins; what the
pages share (the staff Actor, the read-only page, the address search) is in admin.base."""

from django.conf import settings
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from . import (  # noqa: F401  (registers the admin modules)
    api,
    campaigns,
    contacts,
    feedback,
    imports,
    layouts,
    privacy,
    segments,
    staff,
    subscriptions,
    test_lists,
    topics,
    transactional,
    webhooks,
)

# The pages unfold does not draw itself (logout, password reset) read these: the brand, never
# "Django administration".
admin.site.site_header = settings.ORGANIZATION_NAME
admin.site.site_title = settings.ORGANIZATION_NAME
admin.site.index_title = _("Dashboard")
