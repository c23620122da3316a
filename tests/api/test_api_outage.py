"""The API while its database is unreachable: 503 with Retry-After in the API's error shape
(DESIGN, HTTP API v1), never a 500 page.

The app's connection is pointed at a port nobody listens on, as when PostgreSQL restarts or
fails over; no database is mocked.
"""

from __future__ import annotations

import socket

import pytest
from django.db import connections

from tests.support.api import ApiClient


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nobody listens


@pytest.fixture
def database_down(django_db_blocker):
    connection = connections["default"]
    saved = dict(connection.settings_dict)
    with django_db_blocker.unblock():
        connection.close()
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(closed_port()))
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/topics/"),
        ("post", "/api/v1/contacts/"),
        ("delete", "/api/v1/contacts/1/"),
    ],
)
def test_it_answers_503_with_retry_after_while_the_database_is_down(database_down, method, path):
    api = ApiClient("pc_" + "x" * 43)  # any key: checking it needs the database
    api.client.raise_request_exception = False
    call = getattr(api, method)
    response = call(path, {"email": "ann@example.com"}) if method == "post" else call(path)

    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == "database_unavailable" and body["detail"]
    assert int(response["Retry-After"]) > 0
