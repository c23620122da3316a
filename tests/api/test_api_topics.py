"""API v1 topics in every language: `name_<language>` and `description_<language>` for each
language in LANGUAGES besides the default, set on POST and shown on GET."""

from __future__ import annotations

import pytest

from subscriptions.consent.topics import UnknownLanguage, topic_create
from subscriptions.models import Topic

V1 = "/api/v1"


def test_it_creates_a_topic_with_its_danish_name_and_description(api):
    response = api.post(
        f"{V1}/topics/",
        {
            "slug": "deals",
            "name": "Deals",
            "description": "Our best offers.",
            "name_da": "Tilbud",
            "description_da": "Vores bedste tilbud.",
        },
    )

    assert response.status_code == 201, response.content
    assert response.json()["name_da"] == "Tilbud"
    topic = Topic.objects.get(slug="deals")
    assert (topic.name_da, topic.description_da) == ("Tilbud", "Vores bedste tilbud.")
    listed = api.get(f"{V1}/topics/").json()["results"][0]
    assert listed["name_da"] == "Tilbud"
    assert listed["description_da"] == "Vores bedste tilbud."


def test_it_leaves_the_translations_blank_when_none_are_given(api):
    response = api.post(f"{V1}/topics/", {"slug": "deals", "name": "Deals"})

    assert response.status_code == 201
    assert response.json()["name_da"] == ""
    assert Topic.objects.get(slug="deals").name_in("da") == "Deals"


def test_it_refuses_a_language_the_pages_do_not_speak(api):
    response = api.post(f"{V1}/topics/", {"slug": "deals", "name": "Deals", "name_fr": "Offres"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert not Topic.objects.exists()


def test_it_refuses_a_non_string_translation(api):
    response = api.post(f"{V1}/topics/", {"slug": "deals", "name": "Deals", "name_da": ["x"]})

    assert response.status_code == 400
    assert not Topic.objects.exists()


def test_the_service_refuses_an_unconfigured_language(db):
    with pytest.raises(UnknownLanguage):
        topic_create(
            slug="deals",
            name="Deals",
            channel="email",
            frequencies=[],
            translations={"fr": {"name": "Offres"}},
        )
    assert not Topic.objects.exists()
