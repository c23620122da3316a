"""admin.base: the devices every admin page shares behave the same on every page that uses them."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from subscriptions.admin.base import AddressSearchMixin, ReadOnlyAdminMixin, staff_actor
from subscriptions.admin.contacts import ContactAdmin
from subscriptions.consent.subscriptions import subscription_unsubscribe
from subscriptions.models import (
    CampaignComplaints,
    CampaignTestSend,
    ConsentEvent,
    DataSubject,
    SoftBounce,
    Subscription,
    SuppressionRemoval,
    TransactionalMessage,
)
from tests.factories import ContactFactory, SubscriptionFactory

# Pages of facts or reports: nobody, not even a superuser, adds, changes or deletes through them.
READ_ONLY = {
    CampaignComplaints,
    CampaignTestSend,
    ConsentEvent,
    DataSubject,
    SoftBounce,
    Subscription,
    SuppressionRemoval,
    TransactionalMessage,
}


def read_only_admins() -> dict:
    return {
        model: model_admin
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, ReadOnlyAdminMixin)
    }


def test_it_makes_every_page_of_facts_read_only():
    missing = READ_ONLY - set(read_only_admins())
    assert not missing, missing


def test_it_writes_the_read_only_page_once(rf, admin_user):
    # An admin that refuses all three to a superuser is read-only: it says so with the mixin
    # rather than by three methods of its own.
    request = rf.get("/admin/")
    request.user = admin_user
    by_hand = [
        model
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, ReadOnlyAdminMixin)
        and not model_admin.has_add_permission(request)
        and not model_admin.has_change_permission(request)
        and not model_admin.has_delete_permission(request)
    ]
    assert by_hand == []


def test_it_refuses_add_change_and_delete_to_a_superuser_on_every_read_only_page(
    rf, admin_user, subscribed_alice
):
    request = rf.get("/admin/")
    request.user = admin_user
    for model, model_admin in read_only_admins().items():
        obj = model.objects.first()
        assert model_admin.has_add_permission(request) is False, model
        assert model_admin.has_change_permission(request, obj) is False, model
        assert model_admin.has_delete_permission(request, obj) is False, model


def test_it_answers_403_to_an_add_on_every_read_only_page(admin_client):
    for model in read_only_admins():
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
        assert admin_client.get(url).status_code == 403, model
        assert admin_client.post(url, {}).status_code == 403, model


def test_it_shows_a_contacts_subscriptions_and_ledger_read_only(rf, admin_user, alice):
    request = rf.get("/admin/")
    request.user = admin_user
    contact_admin = admin.site._registry[alice.__class__]
    assert isinstance(contact_admin, ContactAdmin)
    for inline in contact_admin.get_inline_instances(request, alice):
        assert isinstance(inline, ReadOnlyAdminMixin), inline
        assert inline.has_add_permission(request, alice) is False, inline
        assert inline.has_change_permission(request, alice) is False, inline
        assert inline.has_delete_permission(request, alice) is False, inline


def test_it_records_an_admin_change_as_the_signed_in_employee(rf, admin_user):
    request = rf.post("/admin/", HTTP_USER_AGENT="Firefox", REMOTE_ADDR="192.0.2.7")
    request.user = admin_user
    by = staff_actor(request, evidence="  signed form, 3 May  ")
    assert (by.source, by.staff_user, by.evidence) == ("admin", admin_user, "signed form, 3 May")
    assert (by.user_agent, by.ip_address) == ("Firefox", "192.0.2.7")
    assert staff_actor(request).evidence == ""


@pytest.mark.parametrize("name", ["contact", "subscription", "consentevent"])
def test_it_finds_a_contact_by_address_on_every_page_that_searches_by_one(
    admin_client, subscribed_alice, topic, actor, name
):
    bob = ContactFactory(email="bob@example.com")
    SubscriptionFactory(contact=bob, topic=topic)
    for contact in (subscribed_alice, bob):
        subscription_unsubscribe(contact=contact, topic=topic, by=actor)
    url = reverse(f"admin:subscriptions_{name}_changelist")
    for term in ("ALICE@Example.com", "lice@exa"):
        listing = admin_client.get(url, {"q": term}).context["cl"]
        assert isinstance(listing.model_admin, AddressSearchMixin)
        assert listing.result_count == 1, term
        owners = {row.pk if name == "contact" else row.contact_id for row in listing.result_list}
        assert owners == {subscribed_alice.pk}, term
