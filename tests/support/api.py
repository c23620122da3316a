"""Fixtures of the API tests: a key, a client that sends it, and JSON helpers."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from subscriptions.api.keys import api_key_create


class ApiClient:
    """A Django test client speaking JSON with a Bearer key."""

    def __init__(self, secret: str | None):
        self.client = Client()
        self.secret = secret

    def headers(self, extra: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        return {**headers, **(extra or {})}

    def get(self, path, params=None, **headers):
        return self.client.get(path, params or {}, headers=self.headers(headers))

    def _send(self, method, path, data, raw, content_type, headers):
        body = raw if raw is not None else (json.dumps(data) if data is not None else "")
        return getattr(self.client, method)(
            path, body, content_type=content_type, headers=self.headers(headers)
        )

    def post(self, path, data=None, raw=None, content_type="application/json", **headers):
        return self._send("post", path, data, raw, content_type, headers)

    def put(self, path, data=None, raw=None, content_type="application/json", **headers):
        return self._send("put", path, data, raw, content_type, headers)

    def delete(self, path, **headers):
        return self.client.delete(path, headers=self.headers(headers))


@pytest.fixture
def api_key(db):
    key, secret = api_key_create(name="crm")
    key.secret = secret
    return key


@pytest.fixture
def api(api_key):
    return ApiClient(api_key.secret)


@pytest.fixture
def anonymous_api(db):
    return ApiClient(None)
