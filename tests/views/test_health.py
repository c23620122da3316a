from __future__ import annotations

import pytest

from prefcenter.celery import app

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down():
    """Point the Celery app's broker at a closed port (the env URL would win over broker_url)."""
    previous = app.conf.broker_write_url
    app.conf.broker_write_url = "redis://127.0.0.1:1/0"
    yield
    app.conf.broker_write_url = previous


def test_it_answers_ok_when_database_and_broker_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_it_answers_503_naming_the_broker_when_it_is_down(client, broker_down):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "broker": "unavailable"}


def test_it_refuses_post(client):
    assert client.post("/healthz").status_code == 405


def test_it_answers_a_load_balancer_probing_the_backend_by_its_address(client):
    # Kubernetes and cloud load balancers send the backend's own address as Host, which
    # ALLOWED_HOSTS refuses: the probe must still see the truth, not a 400.
    response = client.get("/healthz", HTTP_HOST="10.0.3.7:8000")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_it_answers_503_to_a_probe_by_address_when_the_broker_is_down(client, broker_down):
    response = client.get("/healthz", HTTP_HOST="10.0.3.7:8000")

    assert response.status_code == 503
    assert response.json()["broker"] == "unavailable"


def test_it_still_refuses_unknown_hosts_everywhere_else(client):
    assert client.get("/subscribe/", HTTP_HOST="10.0.3.7:8000").status_code == 400
    assert client.get("/healthz/", HTTP_HOST="10.0.3.7:8000").status_code == 400
    assert client.post("/healthz", HTTP_HOST="10.0.3.7:8000").status_code == 405
