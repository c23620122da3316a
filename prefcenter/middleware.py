"""Middleware of the project itself (the app's own lives in subscriptions)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from subscriptions.api.errors import DATABASE_ERRORS
from subscriptions.views.errors import database_unavailable
from subscriptions.views.health import healthz


class HealthProbeMiddleware:
    """Answers `/healthz` before Django validates the Host header; every other path goes on.

    Load balancers and orchestrators probe a backend at its own address (Kubernetes sends the
    pod's IP, a cloud load balancer the target's), a Host that ALLOWED_HOSTS rightly refuses:
    the probe would get the 400 of every unknown host and mark each healthy backend down.
    `/healthz` builds nothing from the Host (no link, no redirect), so answering it whatever the
    Host is safe. First in MIDDLEWARE, so no other middleware reads the Host before it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == "/healthz":
            return healthz(request)
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """An unreachable database answers 503 with Retry-After, not 500: on the pages, the admin,
    the ESP webhooks and anything under /api/ that the API's own handler did not answer.

    A mail client's one-click POST or an ESP's webhook then sees a temporary failure it retries,
    and a person sees that nothing was changed. Last in MIDDLEWARE, so it sees the view's
    exception first. What a view did not raise (a middleware's error) reaches handler500
    (subscriptions.views.errors.server_error), which answers the same.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_ERRORS):
            return None
        return database_unavailable(request, exception)


class ConsolePolicyMiddleware:
    """Gives the staff console's responses settings.CSP_CONSOLE, every other page keeping the
    strict policy. A view's own replacement (the email preview's) still wins where it speaks."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path_info.startswith(reverse("admin:index")):
            response._csp_replace = {
                **settings.CSP_CONSOLE,
                **(getattr(response, "_csp_replace", None) or {}),
            }
        return response
