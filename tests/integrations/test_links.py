"""Issue 14: preference links for the host product, through the API and on the page."""

from __future__ import annotations

import datetime
import time
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from subscriptions.api.keys import api_key_create
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import contact_unsubscribe_all, subscription_unsubscribe
from subscriptions.consent.tokens import HOST_LINK, preferences_url
from subscriptions.models import ConsentEvent, Contact, Subscription
from subscriptions.privacy.erasure import contact_erase
from tests.factories import ContactFactory, SubscriptionFactory
from tests.support.api import ApiClient

pytestmark = pytest.mark.django_db

APP = "https://app.example.com"
V1 = "/api/v1"


@pytest.fixture(autouse=True)
def host_origins(settings):
    settings.PREFERENCE_LINK_ORIGINS = [APP, "http://localhost:3000"]
    settings.SITE_URL = "http://testserver"


def link_for(api, contact, **body) -> dict:
    response = api.post(f"{V1}/contacts/{contact.pk}/preference-link/", body)
    assert response.status_code == 201, response.content
    return response.json()


def path_of(url: str) -> str:
    return urlsplit(url).path


def status_of(contact, topic) -> str | None:
    row = Subscription.objects.filter(contact=contact, topic=topic).first()
    return row.status if row else None


def save(client: Client, path: str, *topics):
    return client.post(path, {"action": "save", **{f"on-{t.slug}": "on" for t in topics}})


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["error"] == code
    assert response.json()["detail"]


# --- the API --------------------------------------------------------------------------------


def test_it_makes_a_link_that_expires_after_the_configured_hours(api, subscribed_alice, settings):
    settings.PREFERENCE_LINK_MAX_AGE_HOURS = 6
    before = timezone.now().replace(microsecond=0)

    answer = link_for(api, subscribed_alice)

    assert answer["expires_at"].endswith("Z")
    expires_at = datetime.datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00"))
    assert before + datetime.timedelta(hours=6) <= expires_at
    assert expires_at <= timezone.now() + datetime.timedelta(hours=6)
    assert answer["url"].startswith("http://testserver/preferences/")
    page = Client().get(path_of(answer["url"]))
    assert page.status_code == 200
    assert b"alice@example.com" in page.content


def test_the_link_names_neither_the_address_nor_the_id(api, subscribed_alice):
    url = link_for(api, subscribed_alice, return_url=f"{APP}/profile")["url"]
    assert "alice" not in url
    assert f"/{subscribed_alice.pk}/" not in path_of(url)


def test_it_needs_the_write_scope(subscribed_alice):
    _key, secret = api_key_create(name="reader", scopes=["read"])
    response = ApiClient(secret).post(f"{V1}/contacts/{subscribed_alice.pk}/preference-link/", {})
    assert_error(response, 403, "forbidden_scope")


def test_it_answers_404_for_an_unknown_or_erased_contact(api, alice):
    assert_error(api.post(f"{V1}/contacts/987654/preference-link/", {}), 404, "not_found")
    contact_erase(contact=alice, by=Actor(source="api"))
    assert_error(api.post(f"{V1}/contacts/{alice.pk}/preference-link/", {}), 404, "not_found")


@pytest.mark.parametrize(
    "return_url",
    [
        "https://evil.example.net/profile",
        "https://app.example.com.evil.example.net/",
        "http://app.example.com/profile",  # another scheme is another origin
        "https://app.example.com:8443/profile",  # so is another port
        "https://user@evil.example.net@app.example.com/",
        "javascript:alert(1)//https://app.example.com/",
        "//app.example.com/profile",
        "/profile",
        "https://app.example.com/\r\nSet-Cookie: x=1",
    ],
)
def test_it_refuses_a_return_url_off_the_host_origins(api, alice, return_url):
    response = api.post(f"{V1}/contacts/{alice.pk}/preference-link/", {"return_url": return_url})
    assert_error(response, 400, "return_url_not_allowed")


def test_it_refuses_every_return_url_when_no_origin_is_configured(api, alice, settings):
    settings.PREFERENCE_LINK_ORIGINS = []
    response = api.post(
        f"{V1}/contacts/{alice.pk}/preference-link/", {"return_url": f"{APP}/profile"}
    )
    assert_error(response, 400, "return_url_not_allowed")
    assert link_for(api, alice)["url"]  # without one the link is still made


def test_it_refuses_unknown_fields_and_wrong_types(api, alice):
    path = f"{V1}/contacts/{alice.pk}/preference-link/"
    assert api.post(path, {"contact": 2}).status_code == 400
    assert api.post(path, {"return_url": 5}).status_code == 400


def test_it_shows_the_return_url_as_the_way_back(api, subscribed_alice):
    url = link_for(api, subscribed_alice, return_url=f"{APP}/settings/profile?tab=email")["url"]
    html = Client().get(path_of(url)).content.decode()
    assert 'href="https://app.example.com/settings/profile?tab=email"' in html
    assert "Back to app.example.com" in html


def test_a_way_back_whose_origin_was_removed_since_is_not_shown(api, subscribed_alice, settings):
    url = link_for(api, subscribed_alice, return_url=f"{APP}/profile")["url"]
    settings.PREFERENCE_LINK_ORIGINS = ["http://localhost:3000"]
    html = Client().get(path_of(url)).content.decode()
    assert "app.example.com" not in html


# --- finding the contact by the host's own id -----------------------------------------------


def test_it_finds_a_contact_by_external_id(api):
    ann = ContactFactory(email="ann@example.com", external_id="user-42")
    ContactFactory(email="bob@example.com", external_id="user-43")
    response = api.get(f"{V1}/contacts/", {"external_id": "user-42"})
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [ann.pk]
    assert api.get(f"{V1}/contacts/", {"external_id": "user-44"}).json()["results"] == []


# --- acting from the link -------------------------------------------------------------------


def test_a_change_from_the_link_is_the_persons_own_with_source_host_link(
    api, subscribed_alice, topic, other_topic
):
    path = path_of(link_for(api, subscribed_alice)["url"])
    client = Client(enforce_csrf_checks=True)

    response = save(client, path, other_topic)  # leaves product-news, joins weekly-digest

    assert response.status_code == 302
    assert status_of(subscribed_alice, topic) == "unsubscribed"
    assert status_of(subscribed_alice, other_topic) == "subscribed"
    events = ConsentEvent.objects.filter(contact=subscribed_alice).exclude(source="admin")
    sources = set(
        events.filter(action__in=["subscribed", "unsubscribed"]).values_list("source", flat=True)
    )
    assert sources == {"host_link"}
    assert not events.filter(action__in=["subscribed", "unsubscribed"], staff_user__isnull=False)


def test_the_forms_work_without_any_cookie(api, subscribed_alice, topic):
    """Inside a third-party iframe the browser sends no cookie: no session, no CSRF cookie."""
    path = path_of(link_for(api, subscribed_alice)["url"])
    client = Client(enforce_csrf_checks=True)
    page = client.get(f"{path}?embed=1")
    assert "Set-Cookie" not in page.headers
    assert not page.cookies
    assert b"csrfmiddlewaretoken" not in page.content

    response = client.post(f"{path}?embed=1", {"action": "pause30"})

    assert response.status_code == 302
    assert response["Location"] == f"{path}?notice=paused&embed=1"
    assert Subscription.objects.get(contact=subscribed_alice, topic=topic).paused_until
    assert not response.cookies


def test_a_mailed_link_keeps_its_csrf_check(subscribed_alice, topic):
    path = path_of(preferences_url(subscribed_alice))
    response = Client(enforce_csrf_checks=True).post(path, {"action": "save"})
    assert response.status_code == 403
    assert status_of(subscribed_alice, topic) == "subscribed"


def test_rejoining_a_topic_left_before_is_confirmed_by_email(
    api, subscribed_alice, topic, send_queued_transactional
):
    subscription_unsubscribe(contact=subscribed_alice, topic=topic, by=Actor(source="one_click"))
    path = path_of(link_for(api, subscribed_alice)["url"])

    response = save(Client(), path, topic)

    assert response["Location"].endswith("?notice=confirm")
    assert status_of(subscribed_alice, topic) == "pending"
    assert not ConsentEvent.objects.filter(
        contact=subscribed_alice, topic=topic, action="subscribed", source="host_link"
    ).exists()
    [confirmation] = [m for m in send_queued_transactional() if m.to == ["alice@example.com"]]
    assert "/confirm/" in confirmation.body


def test_lifting_an_unsubscribe_all_is_confirmed_by_email(
    api, alice, other_topic, send_queued_transactional
):
    contact_unsubscribe_all(contact=alice, by=Actor(source="one_click"))
    path = path_of(link_for(api, alice)["url"])

    save(Client(), path, other_topic)  # a topic Alice never had

    assert status_of(alice, other_topic) == "pending"
    assert [m.to for m in send_queued_transactional()] == [["alice@example.com"]]


def test_a_link_opens_only_its_own_contact(api, subscribed_alice, topic):
    bob = ContactFactory(email="bob@example.com")
    SubscriptionFactory(contact=bob, topic=topic)
    path = path_of(link_for(api, subscribed_alice)["url"])

    save(Client(), path)  # everything off, for Alice only

    assert status_of(subscribed_alice, topic) == "unsubscribed"
    assert status_of(bob, topic) == "subscribed"
    assert b"bob@example.com" not in Client().get(path).content


def test_a_link_re_signed_for_another_contact_is_refused(api, subscribed_alice, topic):
    """The signed payload is readable base64; rewriting its contact breaks the signature."""
    bob = ContactFactory(email="bob@example.com")
    SubscriptionFactory(contact=bob, topic=topic)
    token = path_of(link_for(api, subscribed_alice)["url"]).split("/")[2]
    payload = signing.loads(token, salt=HOST_LINK)
    payload["c"] = bob.token_key.hex
    _body, ts, signature = token.rsplit(":", 2)
    forged_body = signing.dumps(payload, salt=HOST_LINK).rsplit(":", 2)[0]

    for forged in (f"{forged_body}:{ts}:{signature}", signing.dumps(payload, key="guess")):
        response = save(Client(), f"/preferences/{forged}/")
        assert response.status_code == 404
        assert b"This link does not work" in response.content
    assert status_of(bob, topic) == "subscribed"


def test_an_expired_link_gets_a_page_saying_how_to_get_a_fresh_one(
    api, subscribed_alice, topic, settings
):
    settings.PREFERENCE_LINK_MAX_AGE_HOURS = 24
    path = path_of(link_for(api, subscribed_alice)["url"])
    later = time.time() + 24 * 3600 + 5

    with mock.patch("django.core.signing.time.time", return_value=later):
        page = Client().get(path)
        posted = save(Client(), path)

    for response in (page, posted):
        assert response.status_code == 410
        assert b"This link has expired" in response.content
        assert b"open your email preferences" in response.content
    assert status_of(subscribed_alice, topic) == "subscribed"


def test_a_link_still_works_just_before_it_expires(api, subscribed_alice):
    path = path_of(link_for(api, subscribed_alice)["url"])
    with mock.patch("django.core.signing.time.time", return_value=time.time() + 23.9 * 3600):
        assert Client().get(path).status_code == 200


def test_a_link_of_an_erased_contact_says_so(api, alice):
    path = path_of(link_for(api, alice)["url"])
    contact_erase(contact=alice, by=Actor(source="api"))
    assert Client().get(path).status_code == 410
    assert Contact.objects.filter(pk=alice.pk, erased_at__isnull=False).exists()
