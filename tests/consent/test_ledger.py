import pytest
from django.db import IntegrityError, InternalError, ProgrammingError, connection, transaction

from subscriptions.consent.ledger import minimise_ip
from subscriptions.consent.subscriptions import subscription_unsubscribe
from subscriptions.models import ConsentEvent

# Refused by the app role's privileges (ProgrammingError: permission denied) or by the trigger.
LEDGER_ERRORS = (IntegrityError, InternalError, ProgrammingError)


@pytest.fixture
def event(subscribed_alice, topic, actor):
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=actor)
    return ConsentEvent.objects.get()


def test_it_refuses_a_raw_update_of_a_fact(event):
    with pytest.raises(LEDGER_ERRORS), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE subscriptions_consentevent SET new_status = 'subscribed' WHERE id = %s",
            [event.pk],
        )
    event.refresh_from_db()
    assert event.new_status == "unsubscribed"


def test_it_refuses_a_raw_delete(event):
    with pytest.raises(LEDGER_ERRORS), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM subscriptions_consentevent WHERE id = %s", [event.pk])
    assert ConsentEvent.objects.filter(pk=event.pk).exists()


def test_it_refuses_rewriting_personal_fields(event):
    with pytest.raises(LEDGER_ERRORS), transaction.atomic():
        ConsentEvent.objects.filter(pk=event.pk).update(user_agent="forged")


def test_it_allows_blanking_personal_fields(event):
    ConsentEvent.objects.filter(pk=event.pk).update(ip_address=None, user_agent="", evidence="")
    event.refresh_from_db()
    assert event.ip_address is None


def test_it_minimises_ip_addresses():
    assert minimise_ip("203.0.113.77") == "203.0.113.0/24"
    assert minimise_ip("2001:db8:1234:5678::1") == "2001:db8:1234::/48"
    assert minimise_ip("garbage") is None
