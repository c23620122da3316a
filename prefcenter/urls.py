from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from subscriptions.views.admin_login import admin_login

# Styled, translated pages with a link home instead of Django's bare English ones (DEBUG off).
handler400 = "subscriptions.views.errors.bad_request"
handler403 = "subscriptions.views.errors.permission_denied"
handler404 = "subscriptions.views.errors.page_not_found"
handler500 = "subscriptions.views.errors.server_error"

# The site's front door (the admin's "View site"): where to sign up or change one's emails.
home = TemplateView.as_view(template_name="subscriptions/home.html")

urlpatterns = [
    path("", home, name="home"),
    # Before admin.site.urls: the same login page, throttled per IP and per username.
    path("admin/login/", admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("anymail/", include("subscriptions.webhook_urls")),
    path("api/", include("subscriptions.api.urls")),
    path("", include("subscriptions.urls")),
    path("outbox/", include("subscriptions.urls_outbox")),
]
