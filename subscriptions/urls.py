from django.urls import path

from .views import health, pages

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("subscribe/", pages.subscribe, name="subscribe"),
    path("unsubscribe/<str:token>/", pages.unsubscribe, name="unsubscribe"),
    path("preferences/", pages.preferences_request, name="preferences_request"),
    path("preferences/<str:token>/", pages.preferences, name="preferences"),
    path("account/preferences/", pages.account_preferences, name="account_preferences"),
    path("confirm/<str:token>/", pages.confirm, name="confirm"),
]
