"""Anymail's webhook URLs (/anymail/<esp>/tracking/), each guarded against malformed bodies."""

from anymail import urls as anymail_urls

from .webhooks import guarded_patterns

app_name = "anymail"
urlpatterns = guarded_patterns(anymail_urls.urlpatterns)
