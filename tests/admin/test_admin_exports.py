"""The console's "Export subscribers": a CSV for staff holding the export permission, refused to
staff who may only view topics."""

from __future__ import annotations

import csv
import io
import logging

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from subscriptions.models import Segment
from tests.factories import ContactFactory, SubscriptionFactory


def staff_client(django_user_model, name: str, *codenames: str) -> Client:
    user = django_user_model.objects.create_user(name, password=f"pw-{name}-123", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def exporter(django_user_model):
    return staff_client(
        django_user_model, "erin", "view_topic", "view_segment", "export_subscribers"
    )


@pytest.fixture
def viewer(django_user_model):
    return staff_client(django_user_model, "vera", "view_topic")


def export_url(topic) -> str:
    return f"/admin/subscriptions/topic/{topic.pk}/export-subscribers/"


def test_it_exports_a_topics_subscribers_from_the_console(exporter, topic, caplog):
    SubscriptionFactory(contact=ContactFactory(email="ann@example.com"), topic=topic)
    SubscriptionFactory(
        contact=ContactFactory(email="bob@example.com"), topic=topic, status="unsubscribed"
    )

    with caplog.at_level(logging.INFO, logger="subscriptions.consent.exports"):
        response = exporter.get(export_url(topic))
        text = b"".join(response.streaming_content).decode()

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert [row["email"] for row in csv.DictReader(io.StringIO(text))] == ["ann@example.com"]
    assert "erin exports subscribers (topic" in caplog.text


def test_it_shows_the_export_button_to_who_may_export(exporter, viewer, topic):
    assert export_url(topic) in exporter.get("/admin/subscriptions/topic/").content.decode()
    page = exporter.get(f"/admin/subscriptions/topic/{topic.pk}/change/").content.decode()
    assert export_url(topic) in page
    assert export_url(topic) not in viewer.get("/admin/subscriptions/topic/").content.decode()


def test_it_refuses_the_export_to_staff_without_the_permission(viewer, topic):
    SubscriptionFactory(contact=ContactFactory(email="ann@example.com"), topic=topic)

    response = viewer.get(export_url(topic))

    assert response.status_code == 403
    assert b"ann@example.com" not in response.content


def test_it_answers_404_for_an_unknown_topic(exporter, db):
    assert exporter.get("/admin/subscriptions/topic/999999/export-subscribers/").status_code == 404


def test_it_exports_a_segments_subscribers_only_to_who_may_export(exporter, viewer, topic):
    SubscriptionFactory(contact=ContactFactory(email="dan@example.com", locale="da"), topic=topic)
    SubscriptionFactory(contact=ContactFactory(email="eve@example.com", locale="en"), topic=topic)
    rules = {
        "match": "all",
        "groups": [
            {"match": "any", "conditions": [{"field": "locale", "op": "equals", "value": "da"}]}
        ],
    }
    segment = Segment.objects.create(name="Danes", topic=topic, rules=rules)
    url = f"/admin/subscriptions/segment/{segment.pk}/export-subscribers/"

    response = exporter.get(url)
    text = b"".join(response.streaming_content).decode()

    assert [row["email"] for row in csv.DictReader(io.StringIO(text))] == ["dan@example.com"]
    assert viewer.get(url).status_code == 403
