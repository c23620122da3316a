"""The project's URLs and error handlers, plus views that fail: for tests/views/test_error_pages.py."""

from django.db import OperationalError
from django.urls import path

from prefcenter.urls import handler400, handler403, handler404, handler500, urlpatterns


def boom(request):
    raise RuntimeError("a bug")


def database_gone_in_a_template(request):
    raise OperationalError("connection to server at 127.0.0.1 failed")


urlpatterns = [
    path("boom/", boom),
    path("api/v1/boom/", boom),
    path("gone/", database_gone_in_a_template),
    *urlpatterns,
]
__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
