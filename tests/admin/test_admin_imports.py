"""The console's imports: the upload form (one service behind it), a run's page and its progress
JSON, the report download, clear errors at the field for a bad file, and who may do what.

The run itself is `import_run` called here as the worker would; tests/admin/test_import_e2e.py
drives the same pages in a browser with a real Celery worker.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from subscriptions.consent.importing import import_run
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import subscription_subscribe, subscription_unsubscribe
from subscriptions.models import Contact, Import, ImportFileChunk, Subscription, Suppression
from tests.factories import ContactFactory

ADD = "/admin/subscriptions/import/add/"
GOOD_FILE = b"email,external_id\nnew@example.com,=cmd()\ngone@example.com,\nnot-an-address,\n"


def staff_client(django_user_model, name: str, *codenames: str) -> Client:
    user = django_user_model.objects.create_user(name, password=f"pw-{name}-123", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def importer(django_user_model):
    return staff_client(django_user_model, "ida", "view_import", "add_import")


@pytest.fixture
def viewer(django_user_model):
    return staff_client(django_user_model, "vera", "view_import")


@pytest.fixture
def outsider(django_user_model):
    return staff_client(django_user_model, "otto", "view_topic")


def upload(content: bytes, name: str = "list.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def subscribe_form(topic, content: bytes = GOOD_FILE, **fields) -> dict:
    return {
        "file": upload(content),
        "mode": "subscribe",
        "topic": topic.slug if topic else "",
        "legal_basis": "consent",
        "source": "fair 2026",
        **fields,
    }


def field_errors(response, field: str) -> list[str]:
    return response.context["form"].errors.get(field, [])


def test_it_shows_the_upload_form(importer, topic):
    response = importer.get(ADD)

    assert response.status_code == 200
    page = response.content.decode()
    for field in ("file", "mode", "topic", "legal_basis", "reason", "source", "dry_run"):
        assert f'name="{field}"' in page
    assert "subscriptions/imports.js" in page


def test_it_starts_an_import_and_shows_its_progress_and_report(importer, topic):
    gone = ContactFactory(email="gone@example.com")
    subscription_subscribe(contact=gone, topic=topic, by=Actor(source="subscribe_form"))
    subscription_unsubscribe(contact=gone, topic=topic, by=Actor(source="one_click"))

    response = importer.post(ADD, subscribe_form(topic))

    run = Import.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/subscriptions/import/{run.pk}/change/"
    assert (run.status, run.mode, run.topic, run.source, run.created_by.username) == (
        "queued",
        "subscribe",
        topic,
        "fair 2026",
        "ida",
    )
    queued = importer.get(f"/admin/subscriptions/import/{run.pk}/progress.json").json()
    assert (queued["status"], queued["finished"], queued["percent"]) == ("queued", False, 0)

    import_run(run.pk)  # what the worker does

    progress = importer.get(f"/admin/subscriptions/import/{run.pk}/progress.json").json()
    assert (progress["status"], progress["finished"], progress["percent"]) == ("done", True, 100)
    assert progress["rows"] == 3
    assert progress["counts"]["subscribed"] == 1
    assert progress["counts"]["kept_unsubscribed"] == 1
    assert progress["counts"]["invalid"] == 1
    assert Subscription.objects.get(contact__email="new@example.com").status == "subscribed"
    assert Subscription.objects.get(contact=gone).status == "unsubscribed"  # rule 5

    page = importer.get(response["Location"]).content.decode()
    assert "Download the report (CSV)" in page
    assert "not-an-address" in page


def test_it_downloads_the_report_with_formula_cells_neutralised(importer, topic):
    importer.post(ADD, subscribe_form(topic, content=b"email\n=1+2\n@SUM(A1)\nok@example.com\n"))
    run = Import.objects.get()
    import_run(run.pk)

    response = importer.get(f"/admin/subscriptions/import/{run.pk}/report.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"import-{run.pk}-report.csv" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(row["line"], row["outcome"]) for row in rows] == [("2", "invalid"), ("3", "invalid")]
    for row in rows:
        assert not row["email"].startswith(("=", "+", "-", "@"))
        assert not row["detail"].startswith(("=", "+", "-", "@"))


def test_it_shows_why_a_file_is_refused_at_the_field_and_creates_nothing(importer, topic):
    response = importer.post(ADD, subscribe_form(topic, content=b"name,phone\nAnn,1\n"))

    assert response.status_code == 200
    errors = field_errors(response, "file")
    assert errors and "email" in errors[0]
    assert "email" in response.content.decode()
    assert not Import.objects.exists()
    assert not ImportFileChunk.objects.exists()
    assert not Contact.objects.exists()


def test_it_names_the_fix_for_a_file_that_is_not_utf8(importer, topic):
    latin1 = "email,name\njosé@example.com,José\n".encode("latin-1")
    response = importer.post(ADD, subscribe_form(topic, content=b"email,n\xe9\n" + latin1))

    assert response.status_code == 200
    assert "UTF-8" in field_errors(response, "file")[0]
    assert not Import.objects.exists()


def test_it_asks_for_a_topic_when_subscribing(importer, topic):
    response = importer.post(ADD, subscribe_form(None))

    assert response.status_code == 200
    assert field_errors(response, "topic")
    assert not Import.objects.exists()


def test_it_asks_for_a_reason_when_importing_a_suppression_list(importer, db):
    response = importer.post(
        ADD, {"file": upload(b"email\nx@example.com\n"), "mode": "suppress", "source": "esp"}
    )

    assert response.status_code == 200
    assert field_errors(response, "reason")
    assert not Import.objects.exists()


def test_it_imports_a_suppression_list_without_keeping_an_address(importer, db):
    response = importer.post(
        ADD,
        {
            "file": upload(b"email\nleft@example.com\n"),
            "mode": "suppress",
            "reason": "unsubscribed_all",
            "source": "old ESP unsubscribes",
        },
    )
    run = Import.objects.get()
    assert response.status_code == 302
    assert (run.mode, run.topic, run.reason) == ("suppress", None, "unsubscribed_all")

    import_run(run.pk)

    assert Suppression.objects.count() == 1
    assert not Contact.objects.exists()
    page = importer.get(f"/admin/subscriptions/import/{run.pk}/change/").content.decode()
    assert "left@example.com" not in page


def test_it_refuses_a_second_run_on_a_topic_while_one_is_queued(importer, topic):
    importer.post(ADD, subscribe_form(topic))

    response = importer.post(ADD, subscribe_form(topic))

    assert response.status_code == 200
    assert "still" in field_errors(response, "file")[0]
    assert Import.objects.count() == 1


def test_it_lists_past_imports(importer, topic):
    importer.post(ADD, subscribe_form(topic))

    response = importer.get("/admin/subscriptions/import/")

    assert response.status_code == 200
    assert "list.csv" in response.content.decode()


def test_staff_who_may_only_view_imports_cannot_start_one(viewer, topic):
    assert viewer.get(ADD).status_code == 403
    assert viewer.post(ADD, subscribe_form(topic)).status_code == 403
    assert not Import.objects.exists()


def test_staff_without_the_import_permissions_see_no_run_nor_report(importer, outsider, topic):
    importer.post(ADD, subscribe_form(topic))
    run = Import.objects.get()
    import_run(run.pk)

    for path in (
        "/admin/subscriptions/import/",
        f"/admin/subscriptions/import/{run.pk}/change/",
        f"/admin/subscriptions/import/{run.pk}/progress.json",
        f"/admin/subscriptions/import/{run.pk}/report.csv",
    ):
        assert outsider.get(path).status_code == 403, path
    assert outsider.post(ADD, subscribe_form(topic)).status_code == 403
