from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("anymail/", include("subscriptions.webhook_urls")),
    path("api/", include("subscriptions.api.urls")),
    path("", include("subscriptions.urls")),
    path("outbox/", include("subscriptions.urls_outbox")),
]
