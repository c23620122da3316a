"""Admin for topics: the name and description are edited in every language of LANGUAGES."""

from __future__ import annotations

from django.urls import reverse

from subscriptions.models import Topic


def test_it_shows_a_name_and_description_box_per_language(admin_client, topic):
    response = admin_client.get(reverse("admin:subscriptions_topic_change", args=[topic.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="name_da"' in page
    assert 'name="description_da"' in page


def test_it_saves_the_danish_name_and_description(admin_client, topic):
    response = admin_client.post(
        reverse("admin:subscriptions_topic_change", args=[topic.pk]),
        {
            "name": topic.name,
            "slug": topic.slug,
            "description": topic.description,
            "name_da": "Produktnyheder",
            "description_da": "Nyt om vores produkter.",
            "channel": topic.channel,
            "frequencies": ["immediate"],
            "is_active": "on",
            "position": 0,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    topic = Topic.objects.get(pk=topic.pk)
    assert topic.name_da == "Produktnyheder"
    assert topic.description_da == "Nyt om vores produkter."
