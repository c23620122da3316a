from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection

from subscriptions.mail.messages import build_transactional_message
from subscriptions.mail.outbox import outbox_list, outbox_read

pytestmark = pytest.mark.django_db

UNSUBSCRIBE = "http://testserver/unsubscribe/abc123/"


@pytest.fixture
def outbox(settings, tmp_path):
    settings.OUTBOX_DIR = tmp_path / "outbox"
    connection = get_connection("subscriptions.mail.outbox.OutboxBackend")
    confirmation = build_transactional_message(
        to="ben@example.com",
        subject="Please confirm your subscription",
        text="Confirm here: http://testserver/confirm/xyz/",
        html='<p><a href="http://testserver/confirm/xyz/">Confirm</a></p>',
        connection=connection,
    )
    confirmation.send()
    campaign = EmailMultiAlternatives(
        subject="What's new this month",
        body=f"Hi Ada,\n\nUnsubscribe: {UNSUBSCRIBE}\n",
        from_email="news@example.com",
        to=["ada@example.com"],
        headers={
            "List-Unsubscribe": f"<{UNSUBSCRIBE}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": "Product news <product-news.example.com>",
        },
        connection=connection,
    )
    campaign.attach_alternative(
        f'<h1>Hi Ada</h1><script>alert(1)</script><a href="{UNSUBSCRIBE}">Unsubscribe</a>',
        "text/html",
    )
    campaign.send()
    return settings.OUTBOX_DIR


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(user)
    return client


def test_it_lists_messages_newest_first_with_their_stream(outbox):
    entries, total = outbox_list()

    assert total == 2
    assert [(e.to, e.subject, e.stream) for e in entries] == [
        ("ada@example.com", "What's new this month", "marketing"),
        ("ben@example.com", "Please confirm your subscription", "transactional"),
    ]
    assert entries[0].date is not None and entries[0].date >= entries[1].date


def test_it_shows_the_list_page_when_debug(client, settings, outbox):
    settings.DEBUG = True

    response = client.get("/outbox/")

    assert response.status_code == 200
    body = response.content.decode()
    assert body.index("What&#x27;s new this month") < body.index("Please confirm your subscription")
    assert "stream-marketing" in body and "stream-transactional" in body
    entries, _total = outbox_list()
    assert f'href="/outbox/{entries[0].name}/"' in body


def test_it_shows_one_message_with_headers_parts_and_clickable_links(client, settings, outbox):
    settings.DEBUG = True
    name = outbox_list()[0][0].name

    response = client.get(f"/outbox/{name}/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "List-Unsubscribe-Post" in body and "List-Id" in body
    assert f'<a href="{UNSUBSCRIBE}">' in body
    # The HTML part is shown in a sandbox that allows no scripts, escaped into srcdoc.
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in body
    assert "srcdoc=" in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>alert(1)</script>" not in body
    # The text part, with its link made clickable.
    assert "Hi Ada," in body and body.count(f'href="{UNSUBSCRIBE}"') >= 2


def test_it_is_hidden_from_anonymous_visitors_without_debug(client, settings, outbox):
    settings.DEBUG = False
    name = outbox_list()[0][0].name

    assert client.get("/outbox/").status_code == 404
    assert client.get(f"/outbox/{name}/").status_code == 404


def test_it_is_hidden_from_signed_in_non_staff_users(client, settings, outbox):
    settings.DEBUG = False
    client.force_login(get_user_model().objects.create_user("someone", password="pw"))

    assert client.get("/outbox/").status_code == 404


def test_it_is_open_to_staff_without_debug(staff_client, settings, outbox):
    settings.DEBUG = False
    name = outbox_list()[0][0].name

    assert staff_client.get("/outbox/").status_code == 200
    assert staff_client.get(f"/outbox/{name}/").status_code == 200


@pytest.mark.parametrize(
    "name", ["missing.eml", "..secret.eml", "note.txt", "a" * 300 + ".eml", "%2e%2e%2fx.eml"]
)
def test_it_answers_404_for_unknown_or_invalid_names(client, settings, outbox, name):
    settings.DEBUG = True
    (outbox.parent / "secret.eml").write_text("Subject: secret\n\nsecret")

    assert client.get(f"/outbox/{name}/").status_code == 404


def test_it_never_reads_outside_the_outbox(outbox):
    (outbox.parent / "secret.eml").write_text("Subject: secret\n\nsecret")

    assert outbox_read("../secret.eml") is None
    assert outbox_read("/etc/passwd") is None


def test_it_shows_an_empty_outbox(client, settings, tmp_path):
    settings.DEBUG = True
    settings.OUTBOX_DIR = tmp_path / "nothing-yet"

    response = client.get("/outbox/")

    assert response.status_code == 200
    assert "No mail has been sent yet." in response.content.decode()


def test_staff_without_debug_see_no_working_link_of_a_real_person(staff_client, settings, outbox):
    """Without DEBUG the outbox holds real mail: a confirmation link read there would let a
    staff member confirm for the person (rule 5), an unsubscribe link act for them."""
    settings.DEBUG = False
    pages = [
        staff_client.get(f"/outbox/{entry.name}/").content.decode() for entry in outbox_list()[0]
    ]

    for page in pages:
        assert "/confirm/xyz/" not in page
        assert "/unsubscribe/abc123/" not in page
        assert "/unsubscribe/[redacted]/" in page or "/confirm/[redacted]/" in page


def test_with_debug_the_links_stay_clickable(client, settings, outbox):
    settings.DEBUG = True
    pages = [client.get(f"/outbox/{entry.name}/").content.decode() for entry in outbox_list()[0]]

    assert any("/confirm/xyz/" in page for page in pages)
    assert any(f'href="{UNSUBSCRIBE}"' in page for page in pages)
