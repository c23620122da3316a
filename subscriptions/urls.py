from django.urls import include, path

from .views import health, pages, preferences

# Token pages take <path:…> so that even a mangled token with a slash gets the styled page.

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("privacy/", include("subscriptions.privacy_urls")),
    path("subscribe/", pages.subscribe, name="subscribe"),
    path("unsubscribe/<path:token>/", pages.unsubscribe, name="unsubscribe"),
    path("preferences/", preferences.preferences_request, name="preferences_request"),
    path("preferences/<path:token>/", preferences.preferences, name="preferences"),
    path("account/preferences/", preferences.account_preferences, name="account_preferences"),
    path("confirm/<path:token>/", pages.confirm, name="confirm"),
]
