"""Factories for the sending tests."""

from __future__ import annotations

import factory

from subscriptions.models import Campaign

from .factories import ContactFactory, SubscriptionFactory


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    subject = "News for {{ contact.attributes.first_name|default:'you' }}"
    html_body = '<p>Hello {{ contact.attributes.first_name|default:"there" }}</p>'
    text_body = 'Hello {{ contact.attributes.first_name|default:"there" }}'


def subscribers(topic, n: int, **contact_fields) -> list:
    """`n` contacts subscribed to `topic`."""
    contacts = ContactFactory.create_batch(n, **contact_fields)
    for contact in contacts:
        SubscriptionFactory(contact=contact, topic=topic)
    return contacts
