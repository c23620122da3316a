from __future__ import annotations

from csp.decorators import csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from .errors import not_found
from .views import (
    campaigns,
    consent,
    contacts,
    exports,
    imports,
    preference_links,
    privacy,
    segments,
    suppressions,
    topics,
    transactional,
    webhooks,
)

# Redoc's bundle inserts two fixed stylesheets (perfect-scrollbar's CSS, and an empty one) before
# its `nonce` option takes effect: the Content-Security-Policy of its page allows them by hash.
# A new drf-spectacular-sidecar may change them; tests/test_browser_csp.py then fails.
REDOC_STYLE_HASHES = [
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
]

v1 = [
    path("topics/", topics.TopicsView.as_view(), name="api-topics"),
    path(
        "topics/<str:slug>/subscribers.csv",
        exports.TopicSubscribersCsvView.as_view(),
        name="api-topic-subscribers-csv",
    ),
    path("contacts/", contacts.ContactsView.as_view(), name="api-contacts"),
    path("contacts/<int:pk>/", contacts.ContactView.as_view(), name="api-contact"),
    path(
        "contacts/<int:pk>/subscriptions/<str:topic>/",
        contacts.ContactSubscriptionView.as_view(),
        name="api-contact-subscription",
    ),
    path(
        "contacts/<int:pk>/unsubscribe-all/",
        contacts.ContactUnsubscribeAllView.as_view(),
        name="api-contact-unsubscribe-all",
    ),
    path(
        "contacts/<int:pk>/consent-events/",
        contacts.ContactConsentEventsView.as_view(),
        name="api-contact-consent-events",
    ),
    path(
        "contacts/<int:pk>/signals/",
        contacts.ContactSignalView.as_view(),
        name="api-contact-signal",
    ),
    path(
        "contacts/<int:pk>/preference-link/",
        preference_links.PreferenceLinkView.as_view(),
        name="api-contact-preference-link",
    ),
    path(
        "contacts/<int:pk>/export/", privacy.ContactExportView.as_view(), name="api-contact-export"
    ),
    path("suppressions/", suppressions.SuppressionsView.as_view(), name="api-suppressions"),
    path(
        "suppressions/check/",
        suppressions.SuppressionCheckView.as_view(),
        name="api-suppression-check",
    ),
    path("consent/check/", consent.ConsentCheckView.as_view(), name="api-consent-check"),
    path("webhooks/", webhooks.WebhooksView.as_view(), name="api-webhooks"),
    path("webhooks/<int:pk>/", webhooks.WebhookView.as_view(), name="api-webhook"),
    path("imports/", imports.ImportsView.as_view(), name="api-imports"),
    path("imports/<int:pk>/", imports.ImportView.as_view(), name="api-import"),
    path("transactional/", transactional.TransactionalView.as_view(), name="api-transactional"),
    path("campaigns/", campaigns.CampaignsView.as_view(), name="api-campaigns"),
    path("campaigns/<int:pk>/", campaigns.CampaignView.as_view(), name="api-campaign"),
    *(
        path(
            f"campaigns/<int:pk>/{action}/",
            campaigns.CampaignActionView.as_view(action=action),
            name=f"api-campaign-{action}",
        )
        for action in ("send", "pause", "resume", "cancel", "unschedule")
    ),
    path(
        "campaigns/<int:pk>/schedule/",
        campaigns.CampaignScheduleView.as_view(),
        name="api-campaign-schedule",
    ),
    path(
        "campaigns/<int:pk>/test/", campaigns.CampaignTestView.as_view(), name="api-campaign-test"
    ),
    path("segments/", segments.SegmentsView.as_view(), name="api-segments"),
    path("segments/<int:pk>/", segments.SegmentView.as_view(), name="api-segment"),
    path("segments/<int:pk>/count/", segments.SegmentCountView.as_view(), name="api-segment-count"),
    path(
        "segments/<int:pk>/subscribers.csv",
        exports.SegmentSubscribersCsvView.as_view(),
        name="api-segment-subscribers-csv",
    ),
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path(
        "redoc/",
        csp_update({"style-src": REDOC_STYLE_HASHES})(
            SpectacularRedocView.as_view(url_name="api-schema")
        ),
        name="api-redoc",
    ),
    path("v1/", include(v1)),
    re_path(r"^", not_found),
]
