"""Erasure leaves no copy in the webhook outbox (issue 9, road 7, with issue 14's outbox),
proven on a real `pg_dump`: the contact's queued events lose their address and external id at
once, and the `contact.erased` event's external id (which tells the host product whose data
went) is dropped as soon as it has been delivered."""

from __future__ import annotations

import pytest
from django.utils import timezone

from subscriptions.integrations.tasks import deliver_webhooks
from subscriptions.models import WebhookDelivery
from tests.factories import ContactFactory, SubscriptionFactory
from tests.privacy.test_security_erasure import pg_dump

EMAIL = "Quentin.Marsh-5521@Example.net"
EXTERNAL_ID = "host-user-55210"


@pytest.mark.django_db(transaction=True)
def test_erasure_leaves_no_copy_in_the_outbox(api, topic, endpoint, receiver):
    receiver.script = [503, 503, 503]  # the first events wait in the outbox
    contact = ContactFactory(email=EMAIL, external_id=EXTERNAL_ID)
    SubscriptionFactory(contact=contact, topic=topic)
    left = api.put(
        f"/api/v1/contacts/{contact.pk}/subscriptions/{topic.slug}/", {"status": "unsubscribed"}
    )
    assert left.status_code == 200
    deliver_webhooks()  # refused by the receiver: still queued, with the address
    assert EMAIL.lower() in pg_dump().lower()

    assert api.delete(f"/api/v1/contacts/{contact.pk}/").status_code == 204
    dump = pg_dump().lower()
    assert EMAIL.lower() not in dump
    assert dump.count(EXTERNAL_ID) == 1  # only in contact.erased, until it is delivered

    receiver.script = []
    for _ in range(10):
        WebhookDelivery.objects.filter(status="failed").update(next_attempt_at=timezone.now())
        deliver_webhooks()
        if receiver.events("contact.erased"):
            break
    [erased] = receiver.events("contact.erased")
    assert erased["data"] == {"contact_id": contact.pk, "external_id": EXTERNAL_ID}
    dump = pg_dump().lower()
    assert EMAIL.lower() not in dump and EXTERNAL_ID not in dump
