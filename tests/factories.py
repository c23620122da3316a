"""Factories for test data, built through the same services the product uses where it matters."""

from __future__ import annotations

import factory

from subscriptions.addresses import address_hash, address_key
from subscriptions.models import Contact, Subscription, Topic


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"topic-{n}")
    name = factory.Sequence(lambda n: f"Topic {n}")
    description = "News you asked for."
    frequencies = ["immediate", "weekly"]


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    email_key = factory.LazyAttribute(lambda o: address_key(o.email))
    address_hash = factory.LazyAttribute(lambda o: address_hash(o.email))


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    contact = factory.SubFactory(ContactFactory)
    topic = factory.SubFactory(TopicFactory)
    status = "subscribed"
    frequency = "immediate"
