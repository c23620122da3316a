from django.urls import path

from .views import health, pages

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("unsubscribe/<str:token>/", pages.unsubscribe, name="unsubscribe"),
    path("preferences/<str:token>/", pages.preferences, name="preferences"),
    path("confirm/<str:token>/", pages.confirm, name="confirm"),
]
