"""/anymail/: the tracking webhooks of the ESPs in ESP_WEBHOOKS; every other URL answers 404."""

from django.urls import path, re_path

from .feedback.webhooks import not_mounted, tracking_webhook

app_name = "anymail"
urlpatterns = [
    path("<str:esp>/tracking/", tracking_webhook, name="tracking"),
    re_path(r"", not_mounted),
]
