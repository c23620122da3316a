from __future__ import annotations

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from subscriptions.addresses import address_hash
from subscriptions.consent.ledger import Actor
from subscriptions.consent.suppression import suppression_add
from subscriptions.feedback.reports import ComplaintRate, complaint_rate
from subscriptions.models import (
    Campaign,
    ConsentEvent,
    Delivery,
    Suppression,
    SuppressionRemoval,
)
from tests.factories import ContactFactory

# Staff adding a suppression by hand (source `admin`).
STAFF = Actor(source="admin")


@pytest.fixture
def staff(admin_client):
    return admin_client


def test_it_finds_a_suppression_by_address(staff, alice):
    suppression_add(email="alice@example.com", reason="manual", by=STAFF)
    suppression_add(email="bob@example.com", reason="manual", by=STAFF)
    response = staff.get("/admin/subscriptions/suppression/", {"q": "ALICE@example.com"})
    assert response.status_code == 200
    assert [s.address_hash for s in response.context["cl"].result_list] == [
        address_hash("alice@example.com")
    ]


def test_it_adds_one_suppression_through_the_service(staff, alice):
    response = staff.post(
        "/admin/subscriptions/suppression/add/",
        {"email": "alice@example.com", "reason": "manual", "scope": "", "note": "asked by phone"},
    )
    assert response.status_code == 302
    suppression = Suppression.objects.get()
    assert (suppression.address_hash, suppression.scope, suppression.source) == (
        address_hash("alice@example.com"),
        "marketing",
        "admin",
    )
    event = ConsentEvent.objects.get()
    assert (event.action, event.source, event.staff_user.username) == (
        "suppressed",
        "admin",
        "admin",
    )


def test_it_adds_an_uploaded_list(staff, db):
    upload = SimpleUploadedFile(
        "list.csv", b"email\na@example.com\nb@example.com; c@example.com\nnonsense\na@example.com\n"
    )
    response = staff.post(
        "/admin/subscriptions/suppression/bulk-add/",
        {"file": upload, "reason": "manual", "scope": "all"},
        follow=True,
    )
    assert response.status_code == 200
    assert Suppression.objects.filter(scope="all").count() == 3
    text = response.content.decode()
    assert "3 added, 1 already suppressed, 1 invalid." in text


def test_it_removes_a_suppression_only_with_a_reason(staff, alice):
    suppression, _created = suppression_add(email="alice@example.com", reason="complaint", by=STAFF)
    data = {"action": "remove_with_reason", "_selected_action": [suppression.pk]}
    response = staff.post("/admin/subscriptions/suppression/", data)
    assert response.status_code == 200  # the form asking why
    assert Suppression.objects.count() == 1
    response = staff.post(
        "/admin/subscriptions/suppression/", {**data, "why": "complaint was a mistake, ticket 42"}
    )
    assert response.status_code == 302
    assert Suppression.objects.count() == 0
    removal = SuppressionRemoval.objects.get()
    assert (removal.reasons, removal.why, removal.removed_by.username) == (
        "complaint",
        "complaint was a mistake, ticket 42",
        "admin",
    )
    # The suppression's own row (suppression_add), then the removal's.
    added, event = ConsentEvent.objects.order_by("id")
    assert (added.action, added.new_status) == ("suppressed", "complaint")
    assert (event.action, event.old_status, event.staff_user.username) == (
        "unsuppressed",
        "complaint",
        "admin",
    )


def test_staff_the_api_and_webhooks_record_a_suppression_alike(admin_user, alice, api):
    # One service: a new reason, or a wider scope of it, is one ledger row, whoever adds it.
    body = {"email": alice.email, "reason": "manual", "scope": "marketing"}
    api.post("/api/v1/suppressions/", body)
    staff = Actor(source="admin", staff_user=admin_user)
    suppression_add(email=alice.email, reason="manual", scope="marketing", by=staff, note="again")
    suppression_add(email=alice.email, reason="manual", scope="all", by=staff, note="and wider")

    rows = ConsentEvent.objects.filter(contact=alice, action="suppressed").order_by("id")
    assert [(e.source, e.old_status, e.new_status) for e in rows] == [
        ("api", "", "manual"),
        ("admin", "marketing", "manual"),
    ]
    assert Suppression.objects.get().scope == "all"


def test_it_grades_complaint_rates_at_the_mailbox_provider_thresholds():
    assert ComplaintRate(sent=10_000, complained=5).level == "ok"
    assert ComplaintRate(sent=10_000, complained=10).level == "warn"
    assert ComplaintRate(sent=10_000, complained=30).level == "warn"
    assert ComplaintRate(sent=10_000, complained=31).level == "pause"
    assert ComplaintRate(sent=0, complained=0).level == "ok"


def test_it_shows_complaint_rates_per_campaign_and_day(staff, topic):
    campaign = Campaign.objects.create(name="Spring", topic=topic, subject="Hi", status="sent")
    now = timezone.now()
    contacts = [ContactFactory() for _ in range(4)]
    for n, contact in enumerate(contacts):
        Delivery.objects.create(
            campaign=campaign,
            contact=contact,
            status="sent",
            sent_at=now - datetime.timedelta(days=1),
            complained_at=now if n == 0 else None,
        )
    assert complaint_rate(campaign) == ComplaintRate(sent=4, complained=1)
    response = staff.get("/admin/subscriptions/campaigncomplaints/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "25.00%" in text and "Complaint rate per day" in text
    assert [(rate.sent, rate.complained) for _day, rate in response.context["daily_rates"]] == [
        (0, 1),
        (4, 0),
    ]
