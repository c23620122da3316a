from django.contrib import admin
from django.urls import include, path

from subscriptions.views.admin_login import admin_login

urlpatterns = [
    # Before admin.site.urls: the same login page, throttled per IP and per username.
    path("admin/login/", admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("anymail/", include("subscriptions.webhook_urls")),
    path("api/", include("subscriptions.api.urls")),
    path("", include("subscriptions.urls")),
    path("outbox/", include("subscriptions.urls_outbox")),
]
