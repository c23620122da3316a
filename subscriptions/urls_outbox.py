from django.urls import path

from .views import outbox

urlpatterns = [
    path("", outbox.outbox_index, name="outbox"),
    path("<str:name>/", outbox.outbox_message, name="outbox_message"),
]
