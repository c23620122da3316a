from django.urls import include, path

from .views import health, pages

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("outbox/", include("subscriptions.urls_outbox")),
    path("unsubscribe/<str:token>/", pages.unsubscribe, name="unsubscribe"),
    path("preferences/<str:token>/", pages.preferences, name="preferences"),
    path("confirm/<str:token>/", pages.confirm, name="confirm"),
]
