"""URLs of the privacy pages, included under /privacy/ by subscriptions.urls."""

from django.urls import path

from .views import privacy

urlpatterns = [
    path("request/<str:action>/<str:token>/", privacy.privacy_request, name="privacy_request"),
    path("download/<str:token>/", privacy.privacy_export, name="privacy_export"),
    path("erase/<str:token>/", privacy.privacy_erase, name="privacy_erase"),
]
