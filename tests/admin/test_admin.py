"""The admin: staff see contacts and their ledger, and change consent only through the services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from subscriptions.addresses import address_hash
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import subscription_unsubscribe
from subscriptions.consent.suppression import suppression_add
from subscriptions.models import (
    ConsentEvent,
    LinkHit,
    Subscription,
    Suppression,
    Topic,
    TransactionalMessage,
)
from tests.factories import ContactFactory

# Staff adding a suppression by hand (source `admin`).
STAFF = Actor(source="admin")


def change_url(contact) -> str:
    return reverse("admin:subscriptions_contact_change", args=[contact.pk])


def consent_url(contact) -> str:
    return reverse("admin:subscriptions_contact_consent", args=[contact.pk])


def staff_events(contact):
    return ConsentEvent.objects.filter(contact=contact, source="admin")


@pytest.fixture
def unsubscribed_alice(subscribed_alice, topic, actor):
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=actor)
    return subscribed_alice


def test_it_renders_a_contact_with_subscriptions_ledger_and_consent_actions(
    admin_client, unsubscribed_alice
):
    response = admin_client.get(change_url(unsubscribed_alice))
    assert response.status_code == 200
    page = response.content.decode()
    assert "alice@example.com" in page
    assert "Consent ledger" in page
    assert "Consent actions" in page
    assert "Subscribe (with evidence)" in page
    # Subscriptions are shown, never edited in the inline.
    assert 'name="subscriptions-0-status"' not in page


def test_it_unsubscribes_from_a_topic_as_the_staff_user(
    admin_client, admin_user, subscribed_alice, topic
):
    response = admin_client.post(
        consent_url(subscribed_alice), {"action": "unsubscribe", "topic": topic.pk}
    )
    assert response.status_code == 302
    assert Subscription.objects.get(contact=subscribed_alice).status == "unsubscribed"
    event = staff_events(subscribed_alice).get()
    assert event.action == "unsubscribed"
    assert event.staff_user == admin_user
    assert event.actor == admin_user.get_username()


def test_it_refuses_to_resubscribe_someone_who_opted_out(admin_client, unsubscribed_alice, topic):
    response = admin_client.post(
        consent_url(unsubscribed_alice),
        {"action": "subscribe", "topic": topic.pk, "evidence": "said so on the phone"},
        follow=True,
    )
    assert response.status_code == 200
    assert "cannot subscribe alice@example.com to Product news again" in response.content.decode()
    assert Subscription.objects.get(contact=unsubscribed_alice).status == "unsubscribed"
    assert not staff_events(unsubscribed_alice).exists()


def test_it_refuses_to_subscribe_a_suppressed_address(admin_client, alice, topic):
    suppression_add(email=alice.email, reason="complaint", by=STAFF)
    admin_client.post(
        consent_url(alice), {"action": "subscribe", "topic": topic.pk, "evidence": "form"}
    )
    assert not Subscription.objects.filter(contact=alice).exists()


def test_it_subscribes_a_new_contact_with_evidence(admin_client, admin_user, alice, topic):
    admin_client.post(
        consent_url(alice),
        {
            "action": "subscribe",
            "topic": topic.pk,
            "legal_basis": "consent",
            "evidence": "Paper form signed at the fair, 2026-11-20",
        },
    )
    assert Subscription.objects.get(contact=alice, topic=topic).status == "subscribed"
    event = staff_events(alice).get()
    assert event.evidence == "Paper form signed at the fair, 2026-11-20"
    assert event.staff_user == admin_user


def test_it_requires_evidence_to_subscribe(admin_client, alice, topic):
    response = admin_client.post(
        consent_url(alice),
        {"action": "subscribe", "topic": topic.pk, "legal_basis": "consent"},
        follow=True,
    )
    assert "Say where and how the person agreed." in response.content.decode()
    assert not Subscription.objects.filter(contact=alice).exists()


def test_it_sends_a_double_opt_in_to_someone_who_opted_out(admin_client, unsubscribed_alice, topic):
    admin_client.post(
        consent_url(unsubscribed_alice), {"action": "request_confirmation", "topic": topic.pk}
    )
    assert Subscription.objects.get(contact=unsubscribed_alice).status == "pending"
    assert TransactionalMessage.objects.filter(to_email="alice@example.com").exists()


def test_it_unsubscribes_from_all_and_suppresses(admin_client, admin_user, subscribed_alice):
    admin_client.post(consent_url(subscribed_alice), {"action": "unsubscribe_all"})
    assert Subscription.objects.get(contact=subscribed_alice).status == "unsubscribed"
    suppression = Suppression.objects.get(address_hash=subscribed_alice.address_hash)
    assert (suppression.reason, suppression.source) == ("unsubscribed_all", "admin")
    assert suppression.created_by == admin_user
    assert set(staff_events(subscribed_alice).values_list("action", flat=True)) == {
        "unsubscribed",
        "unsubscribed_all",
    }


def test_it_pauses_and_resumes(admin_client, subscribed_alice):
    admin_client.post(consent_url(subscribed_alice), {"action": "pause_30"})
    assert Subscription.objects.get(contact=subscribed_alice).paused_until is not None
    admin_client.post(consent_url(subscribed_alice), {"action": "resume"})
    assert Subscription.objects.get(contact=subscribed_alice).paused_until is None
    assert list(staff_events(subscribed_alice).values_list("action", flat=True)) == [
        "paused",
        "resumed",
    ]


def test_it_unsubscribes_selected_contacts_from_all(admin_client, subscribed_alice):
    bob = ContactFactory(email="bob@example.com")
    response = admin_client.post(
        reverse("admin:subscriptions_contact_changelist"),
        {"action": "unsubscribe_all_selected", "_selected_action": [subscribed_alice.pk, bob.pk]},
    )
    assert response.status_code == 302
    assert Suppression.objects.filter(reason="unsubscribed_all").count() == 2


def test_it_refuses_a_get_on_the_consent_action(admin_client, subscribed_alice):
    assert admin_client.get(consent_url(subscribed_alice)).status_code == 405


def test_it_keeps_the_consent_actions_from_non_staff(
    client, django_user_model, subscribed_alice, topic
):
    user = django_user_model.objects.create_user("mallory", password="pw-mallory-123")
    client.force_login(user)
    response = client.post(
        consent_url(subscribed_alice), {"action": "unsubscribe", "topic": topic.pk}
    )
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert Subscription.objects.get(contact=subscribed_alice).status == "subscribed"


def test_it_logs_in_staff_through_the_login_form(client, django_user_model, subscribed_alice):
    django_user_model.objects.create_user(
        "sam", password="pw-sam-staff-123", is_staff=True, is_superuser=True
    )
    response = client.post(
        reverse("admin:login"),
        {"username": "sam", "password": "pw-sam-staff-123", "next": change_url(subscribed_alice)},
        follow=True,
    )
    assert response.status_code == 200
    assert "Consent actions" in response.content.decode()


def test_it_finds_a_contact_by_email_in_any_case(admin_client, alice):
    ContactFactory(email="bob@example.com")
    url = reverse("admin:subscriptions_contact_changelist")
    page = admin_client.get(url, {"q": "ALICE@Example.com"}).content.decode()
    assert "alice@example.com" in page
    assert "bob@example.com" not in page


def test_it_filters_contacts_by_subscription_status(admin_client, subscribed_alice):
    ContactFactory(email="bob@example.com")
    url = reverse("admin:subscriptions_contact_changelist")
    page = admin_client.get(url, {"subscriptions__status": "subscribed"}).content.decode()
    assert "alice@example.com" in page
    assert "bob@example.com" not in page


def test_it_never_deletes_contacts(admin_client, alice):
    url = reverse("admin:subscriptions_contact_delete", args=[alice.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403


def test_it_finds_a_suppression_by_its_address(admin_client, db):
    suppression_add(email="alice@example.com", reason="hard_bounce", by=STAFF)
    suppression_add(email="bob@example.com", reason="hard_bounce", by=STAFF)
    url = reverse("admin:subscriptions_suppression_changelist")
    page = admin_client.get(url, {"q": "Alice@EXAMPLE.com"}).content.decode()
    assert address_hash("alice@example.com")[:16] in page
    assert address_hash("bob@example.com")[:16] not in page


def test_it_adds_a_suppression_by_address_as_the_staff_user(admin_client, admin_user, alice):
    response = admin_client.post(
        reverse("admin:subscriptions_suppression_add"),
        {"email": " Alice@Example.com ", "reason": "manual", "scope": "", "note": "asked"},
    )
    assert response.status_code == 302
    suppression = Suppression.objects.get()
    assert suppression.address_hash == alice.address_hash
    assert (suppression.scope, suppression.created_by) == ("marketing", admin_user)
    event = staff_events(alice).get()
    assert (event.action, event.new_status, event.staff_user) == (
        "suppressed",
        "manual",
        admin_user,
    )


def test_it_keeps_the_ledger_read_only(admin_client, unsubscribed_alice):
    event = ConsentEvent.objects.get()
    assert admin_client.get(reverse("admin:subscriptions_consentevent_add")).status_code == 403
    change = reverse("admin:subscriptions_consentevent_change", args=[event.pk])
    assert admin_client.get(change).status_code == 200
    assert admin_client.post(change, {"new_status": "subscribed"}).status_code == 403
    delete = reverse("admin:subscriptions_consentevent_delete", args=[event.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.new_status == "unsubscribed"


def test_it_lists_consent_events_by_contact_address(admin_client, unsubscribed_alice):
    url = reverse("admin:subscriptions_consentevent_changelist")
    response = admin_client.get(url, {"q": "alice@example.com"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_it_shows_transactional_messages_read_only(admin_client, db):
    message = TransactionalMessage.objects.create(
        kind="confirm", to_email="alice@example.com", subject="Confirm", text_body="Hi"
    )
    listing = admin_client.get(reverse("admin:subscriptions_transactionalmessage_changelist"))
    assert "alice@example.com" in listing.content.decode()
    change = reverse("admin:subscriptions_transactionalmessage_change", args=[message.pk])
    assert admin_client.post(change, {"subject": "Changed"}).status_code == 403


def test_it_renders_every_admin_list_and_add_page(admin_client, subscribed_alice):
    names = [
        "contact",
        "topic",
        "subscription",
        "suppression",
        "consentevent",
        "transactionalmessage",
    ]
    for name in names:
        response = admin_client.get(reverse(f"admin:subscriptions_{name}_changelist"))
        assert response.status_code == 200, name
    for name in ["topic", "suppression"]:
        assert admin_client.get(reverse(f"admin:subscriptions_{name}_add")).status_code == 200


def test_it_finds_a_contact_by_part_of_an_address(admin_client, alice):
    ContactFactory(email="bob@example.com")
    url = reverse("admin:subscriptions_contact_changelist")
    assert admin_client.get(url, {"q": "ALICE@"}).context["cl"].result_count == 1


def test_it_links_to_the_contacts_full_ledger(admin_client, unsubscribed_alice):
    ContactFactory(email="bob@example.com")
    page = admin_client.get(change_url(unsubscribed_alice)).content.decode()
    link = f"?contact__id__exact={unsubscribed_alice.pk}"
    assert link in page
    url = reverse("admin:subscriptions_consentevent_changelist") + link
    assert admin_client.get(url).context["cl"].result_count == 1


def test_it_adds_a_topic_with_the_frequencies_it_offers(admin_client, db):
    response = admin_client.post(
        reverse("admin:subscriptions_topic_add"),
        {
            "name": "Weekly digest",
            "slug": "weekly-digest",
            "channel": "email",
            "frequencies": ["monthly", "weekly"],
            "is_active": "on",
            "position": "0",
        },
    )
    assert response.status_code == 302
    topic = Topic.objects.get(slug="weekly-digest")
    assert topic.frequencies == ["weekly", "monthly"]
    assert topic.default_frequency == "weekly"


def test_it_unsubscribes_selected_subscriptions_through_the_service(
    admin_client, admin_user, subscribed_alice
):
    subscription = Subscription.objects.get(contact=subscribed_alice)
    admin_client.post(
        reverse("admin:subscriptions_subscription_changelist"),
        {"action": "unsubscribe_selected", "_selected_action": [subscription.pk]},
    )
    subscription.refresh_from_db()
    assert subscription.status == "unsubscribed"
    assert staff_events(subscribed_alice).get().staff_user == admin_user


def test_it_refuses_subscription_actions_to_view_only_staff(
    client, django_user_model, subscribed_alice
):
    viewer = django_user_model.objects.create_user("vera", password="pw-vera-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_subscription"))
    client.force_login(viewer)
    subscription = Subscription.objects.get(contact=subscribed_alice)
    response = client.post(
        reverse("admin:subscriptions_subscription_changelist"),
        {"action": "unsubscribe_selected", "_selected_action": [subscription.pk]},
    )
    assert response.status_code == 403
    subscription.refresh_from_db()
    assert subscription.status == "subscribed"


def test_it_shows_link_opens_on_the_contact_page(admin_client, subscribed_alice, topic):
    LinkHit.objects.create(
        contact=subscribed_alice, topic=topic, kind="unsubscribe", user_agent="LinkScanner/1.0"
    )
    page = admin_client.get(change_url(subscribed_alice)).content.decode()
    assert "LinkScanner/1.0" in page
