"""Issue 9, road 2 (minting) and DESIGN rule 9: nobody but the person sees their links.

Before: the admin preview (view permission) rendered a real contact's footer with a fresh
preference link, and the admin test send mailed those links to up to 20 arbitrary addresses,
suppressed ones included. Now previews and tests carry inert test links, served at the same
routes, whose pages say it was a test and whose POSTs change nothing.
"""

from __future__ import annotations

import re
import socket

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from subscriptions.addresses import address_hash
from subscriptions.consent.tokens import (
    BadToken,
    preferences_url,
    read_preference_link,
    read_unsubscribe_token,
)
from subscriptions.models import CampaignTestSend, ConsentEvent, Delivery, LinkHit, Suppression
from tests.sending_factories import CampaignFactory

pytestmark = pytest.mark.django_db

TOKEN_LINK = re.compile(r"/(unsubscribe|preferences)/([^/\s\"'<>]+)/")


def links_in(text: str) -> list[tuple[str, str]]:
    found = TOKEN_LINK.findall(text.replace("&amp;", "&"))
    assert found, "expected unsubscribe/preference links"
    return found


def assert_no_working_link(text: str) -> None:
    """No unsubscribe or preference token in `text` acts for any contact."""
    for kind, token in links_in(text):
        reader = read_unsubscribe_token if kind == "unsubscribe" else read_preference_link
        with pytest.raises(BadToken):
            reader(token)


def state(contact) -> tuple:
    return (
        list(contact.subscriptions.values_list("topic__slug", "status", "paused_until")),
        ConsentEvent.objects.filter(contact=contact).count(),
        Suppression.objects.filter(address_hash=contact.address_hash).count(),
        LinkHit.objects.count(),
    )


@pytest.fixture
def viewer(db):
    """Staff who may only view campaigns: the preview is theirs, the test send is not."""
    user = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    client = Client()
    client.force_login(user)
    return client


def preview_url(campaign) -> str:
    return reverse("admin:subscriptions_campaign_preview", args=[campaign.pk])


def test_the_preview_as_a_real_contact_shows_no_working_link(viewer, topic, subscribed_alice):
    campaign = CampaignFactory(
        topic=topic,
        html_body='<a href="{{ preferences_url }}">p</a> <a href="{{ unsubscribe_url }}">u</a>',
        text_body="{{ preferences_url }} {{ unsubscribe_url }}",
    )

    response = viewer.get(preview_url(campaign), {"contact": "alice@example.com"})

    assert response.status_code == 200
    assert "alice@example.com" in response.text  # it is her preview...
    assert_no_working_link(response.text)  # ...without her links (body, footer, headers)


def test_the_preview_says_so_when_the_address_is_unknown(viewer, topic):
    campaign = CampaignFactory(topic=topic)

    response = viewer.get(preview_url(campaign), {"contact": "nobody@example.com"})

    # An error at the field, never a silent stand-in (issue 12).
    assert response.status_code == 200
    assert "No contact has the address nobody@example.com." in response.text
    assert "srcdoc" not in response.text


def test_a_view_only_user_cannot_send_a_test(viewer, topic, outbox):
    campaign = CampaignFactory(topic=topic)

    response = viewer.post(preview_url(campaign), {"addresses": "mallory@evil.example"})

    assert response.status_code == 403
    assert outbox == []
    assert not CampaignTestSend.objects.exists()


def test_an_admin_test_send_carries_only_inert_links_and_is_logged(
    admin_client, admin_user, topic, subscribed_alice, outbox
):
    campaign = CampaignFactory(topic=topic)
    before = state(subscribed_alice)

    response = admin_client.post(
        preview_url(campaign),
        {"addresses": "qa@example.com, boss@example.com", "contact": "alice@example.com"},
    )

    assert response.status_code == 302
    assert [m.to for m in outbox] == [["qa@example.com"], ["boss@example.com"]]
    for message in outbox:
        assert message.subject.startswith("[Test] ")
        html = next(c for c, mime in message.alternatives if mime == "text/html")
        assert_no_working_link(message.body + html + message.extra_headers["List-Unsubscribe"])
        assert "mailto:" not in message.extra_headers["List-Unsubscribe"]
    log = CampaignTestSend.objects.get()
    assert (log.campaign, log.sent_by, log.requested_by) == (campaign, admin_user, "admin:admin")
    assert log.recipients == ["qa@example.com", "boss@example.com"]
    assert log.rendered_as == subscribed_alice
    assert not Delivery.objects.exists()
    assert state(subscribed_alice) == before


def test_a_test_send_refuses_suppressed_recipients(admin_client, topic, outbox):
    Suppression.objects.create(
        address_hash=address_hash("gone@example.com"), reason="unsubscribed_all", scope="marketing"
    )
    campaign = CampaignFactory(topic=topic)

    response = admin_client.post(
        preview_url(campaign), {"addresses": "gone@example.com, qa@example.com"}, follow=True
    )

    assert [m.to for m in outbox] == [["qa@example.com"]]
    assert "Not sent to suppressed addresses: gone@example.com" in response.text
    log = CampaignTestSend.objects.get()
    assert (log.recipients, log.refused) == (["qa@example.com"], ["gone@example.com"])


def test_an_admin_test_send_is_capped_at_twenty(admin_client, topic, outbox):
    campaign = CampaignFactory(topic=topic)
    many = ", ".join(f"qa{i}@example.com" for i in range(21))

    response = admin_client.post(preview_url(campaign), {"addresses": many}, follow=True)

    assert "between 1 and 20" in response.text
    assert outbox == []


@pytest.fixture
def test_message(admin_client, topic, subscribed_alice, outbox):
    campaign = CampaignFactory(topic=topic)
    admin_client.post(
        preview_url(campaign), {"addresses": "qa@example.com", "contact": "alice@example.com"}
    )
    (message,) = outbox
    return message


def paths_of(message) -> dict[str, str]:
    header = message.extra_headers["List-Unsubscribe"]
    unsubscribe = re.search(r"<https?://[^/]+(/unsubscribe/[^>]+)>", header).group(1)
    preferences = re.search(r"https?://[^/\s]+(/preferences/[^\s]+/)", message.body).group(1)
    return {"unsubscribe": unsubscribe, "preferences": preferences}


def test_the_test_links_pages_say_it_was_a_test(test_message, subscribed_alice):
    before = state(subscribed_alice)
    client = Client()

    for path in paths_of(test_message).values():
        response = client.get(path)
        assert response.status_code == 200
        assert "This was a test message" in response.text
        assert "alice@example.com" not in response.text

    assert state(subscribed_alice) == before


@pytest.mark.parametrize(
    "body, content_type",
    [
        ("List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"),
        ("scope=all", "application/x-www-form-urlencoded"),
        (
            '--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
            "One-Click\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
        ),
    ],
)
def test_posting_to_a_test_unsubscribe_link_changes_nothing(
    test_message, subscribed_alice, body, content_type
):
    before = state(subscribed_alice)
    client = Client(enforce_csrf_checks=True)

    response = client.post(paths_of(test_message)["unsubscribe"], body, content_type=content_type)

    assert response.status_code == 200
    assert not response.cookies
    assert "Nothing changed" in response.text
    assert state(subscribed_alice) == before


def test_posting_to_a_test_preference_link_changes_nothing(test_message, subscribed_alice, topic):
    before = state(subscribed_alice)

    # Posted as a script or a mail client would: no cookie, no CSRF token.
    response = Client(enforce_csrf_checks=True).post(
        paths_of(test_message)["preferences"], {"action": "unsubscribe_all", "topics": []}
    )

    assert response.status_code == 200
    assert "Nothing changed" in response.text
    assert state(subscribed_alice) == before


def test_a_real_preference_link_still_needs_its_csrf_token(subscribed_alice):
    path = preferences_url(subscribed_alice).removeprefix(settings.SITE_URL)

    response = Client(enforce_csrf_checks=True).post(path, {"action": "unsubscribe_all"})

    assert response.status_code == 403
    assert subscribed_alice.subscriptions.get().status == "subscribed"


def test_a_test_link_is_no_other_kind_of_token(test_message):
    paths = paths_of(test_message)
    unsubscribe_token = paths["unsubscribe"].split("/")[2]
    preferences_token = paths["preferences"].split("/")[2]

    # Swapped between routes, each is just a bad link.
    assert Client().get(f"/preferences/{unsubscribe_token}/").status_code == 404
    assert Client().get(f"/unsubscribe/{preferences_token}/").status_code == 404
    assert Client().get(f"/confirm/{preferences_token}/").status_code == 404


# --- the API endpoint -------------------------------------------------------------------------


def test_the_api_test_send_sends_inert_tests_and_refuses_suppressed(
    api, topic, subscribed_alice, outbox
):
    Suppression.objects.create(
        address_hash=address_hash("gone@example.com"), reason="complaint", scope="marketing"
    )
    campaign = CampaignFactory(topic=topic)

    response = api.post(
        f"/api/v1/campaigns/{campaign.pk}/test/",
        {"to": ["qa@example.com", "gone@example.com", "QA@example.com"]},
    )

    assert response.status_code == 202, response.content
    assert response.json() == {"sent": 1, "refused": ["gone@example.com"]}
    (message,) = outbox
    assert message.to == ["qa@example.com"]
    assert message.subject.startswith("[Test] ")
    html = next(c for c, mime in message.alternatives if mime == "text/html")
    assert_no_working_link(message.body + html + message.extra_headers["List-Unsubscribe"])
    log = CampaignTestSend.objects.get()
    assert (log.requested_by, log.sent_by, log.refused) == ("api:crm", None, ["gone@example.com"])
    assert not Delivery.objects.exists()


@pytest.mark.parametrize(
    "body, code",
    [
        ({"to": [f"qa{i}@example.com" for i in range(21)]}, "invalid"),
        ({"to": []}, "invalid"),
        ({"to": ["not an address"]}, "invalid_email"),
        ({"to": "qa@example.com"}, "invalid"),
        ({}, "invalid"),
    ],
)
def test_the_api_test_send_refuses_bad_recipients(api, topic, outbox, body, code):
    campaign = CampaignFactory(topic=topic)

    response = api.post(f"/api/v1/campaigns/{campaign.pk}/test/", body)

    assert response.status_code == 400
    assert response.json()["error"] == code
    assert outbox == []
    assert not CampaignTestSend.objects.exists()


def test_the_api_test_send_of_a_campaign_that_breaks_is_a_clear_400(api, topic, outbox):
    campaign = CampaignFactory(topic=topic, text_body="{{ x|center:99999 }}")

    response = api.post(f"/api/v1/campaigns/{campaign.pk}/test/", {"to": ["qa@example.com"]})

    assert response.status_code == 400
    assert response.json()["error"] == "render_failed"
    assert "RenderBudgetExceeded" in response.json()["detail"]
    assert outbox == []


def test_the_api_test_send_of_an_unknown_campaign_is_404(api, outbox):
    response = api.post("/api/v1/campaigns/999999/test/", {"to": ["qa@example.com"]})

    assert response.status_code == 404


def test_the_log_of_test_sends_is_read_only_in_the_admin(admin_client, topic, outbox):
    campaign = CampaignFactory(topic=topic, name="Spring sale")
    admin_client.post(preview_url(campaign), {"addresses": "qa@example.com"})
    log = CampaignTestSend.objects.get()

    listing = admin_client.get(reverse("admin:subscriptions_campaigntestsend_changelist"))
    detail = admin_client.get(reverse("admin:subscriptions_campaigntestsend_change", args=[log.pk]))
    add = admin_client.get(reverse("admin:subscriptions_campaigntestsend_add"))
    edit = admin_client.post(
        reverse("admin:subscriptions_campaigntestsend_change", args=[log.pk]),
        {"requested_by": "someone-else", "recipients": "[]"},
    )

    assert "Spring sale" in listing.text and "qa@example.com" in listing.text
    assert "View sent test" in detail.text  # a view page, not a change form
    assert 'name="requested_by"' not in detail.text
    assert add.status_code == 403
    assert edit.status_code == 403
    log.refresh_from_db()
    assert (log.requested_by, log.recipients) == ("admin:admin", ["qa@example.com"])


def test_a_viewer_of_system_mail_sees_no_confirmation_or_privacy_link(topic, subscribed_alice):
    """Staff who may view transactional messages read them without the link tokens: with the
    confirmation link they could re-subscribe a person who unsubscribed from all (only the
    person may), with the privacy link download the person's data."""
    from subscriptions.consent.confirmations import subscription_request
    from subscriptions.consent.ledger import Actor
    from subscriptions.consent.subscriptions import contact_unsubscribe_all
    from subscriptions.models import TransactionalMessage
    from subscriptions.privacy.rights import privacy_request_start

    contact_unsubscribe_all(contact=subscribed_alice, by=Actor(source="one_click"))
    subscription_request(
        contact=subscribed_alice, topics=[topic], by=Actor(source="preference_page")
    )
    privacy_request_start(contact=subscribed_alice, action="export")
    user = get_user_model().objects.create_user("reader", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_transactionalmessage"))
    client = Client()
    client.force_login(user)

    messages = TransactionalMessage.objects.filter(to_email=subscribed_alice.email)
    assert {m.kind for m in messages} >= {"confirm", "privacy_export"}
    for message in messages:
        page = client.get(
            reverse("admin:subscriptions_transactionalmessage_change", args=[message.pk])
        )
        assert page.status_code == 200
        text = page.content.decode()
        assert not re.search(r"/(confirm|privacy/download|preferences)/(?!\[redacted\])\S", text)
        assert "[redacted]" in text


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nobody listens


def test_the_api_test_send_with_the_mail_server_down_is_503_not_500(api, topic, settings):
    # The outage an integrator meets first: the SMTP relay is restarting.
    settings.MARKETING_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
    campaign = CampaignFactory(topic=topic)
    api.client.raise_request_exception = False

    response = api.post(f"/api/v1/campaigns/{campaign.pk}/test/", {"to": ["qa@example.com"]})

    assert response.status_code == 503, response.content
    assert response.json()["error"] == "mail_unavailable"
    assert int(response["Retry-After"]) > 0
    # The attempt stays on record: who tried to send what to whom.
    assert CampaignTestSend.objects.get().recipients == ["qa@example.com"]
