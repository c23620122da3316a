from __future__ import annotations

import ast
import datetime
import gettext
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core import signing
from django.test import override_settings
from django.urls import reverse

from subscriptions.consent.notifications import send_preference_link
from subscriptions.consent.tokens import (
    CONFIRM,
    UNSUBSCRIBE,
    confirm_token,
    preferences_token,
    unsubscribe_token,
)
from subscriptions.models import (
    ConfirmationRequest,
    ConsentEvent,
    Contact,
    LinkHit,
    Subscription,
    Suppression,
)
from tests.factories import ContactFactory, SubscriptionFactory
from tests.form_tasks import run_queued_form_tasks

pytestmark = pytest.mark.usefixtures("fresh_rate_limits")


def unsubscribe_path(contact, topic) -> str:
    return reverse("unsubscribe", args=[unsubscribe_token(contact, topic)])


def status_of(contact, topic) -> str:
    return Subscription.objects.get(contact=contact, topic=topic).status


# --- unsubscribe -------------------------------------------------------------------------------


def test_it_shows_the_unsubscribe_page_without_changing_consent(client, subscribed_alice, topic):
    before = ConsentEvent.objects.count()
    response = client.get(unsubscribe_path(subscribed_alice, topic), HTTP_USER_AGENT="Scanner/1.0")
    assert response.status_code == 200
    assert b"Product news" in response.content
    assert b'value="all"' in response.content  # unsubscribe from all
    assert b"/preferences/" in response.content
    assert status_of(subscribed_alice, topic) == "subscribed"
    assert ConsentEvent.objects.count() == before
    hit = LinkHit.objects.get()
    assert (hit.contact, hit.topic, hit.user_agent) == (subscribed_alice, topic, "Scanner/1.0")
    assert not response.cookies


def test_it_unsubscribes_on_a_one_click_urlencoded_post(bare_client, subscribed_alice, topic):
    response = bare_client.post(
        unsubscribe_path(subscribed_alice, topic),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert not response.cookies
    assert "Set-Cookie" not in response.headers
    assert status_of(subscribed_alice, topic) == "unsubscribed"
    event = ConsentEvent.objects.get()
    assert (event.action, event.source) == ("unsubscribed", "one_click")


def test_it_unsubscribes_on_a_one_click_multipart_post(bare_client, subscribed_alice, topic):
    response = bare_client.post(
        unsubscribe_path(subscribed_alice, topic), data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert status_of(subscribed_alice, topic) == "unsubscribed"
    assert ConsentEvent.objects.get().source == "one_click"


def test_it_records_the_page_button_as_the_unsubscribe_link(bare_client, subscribed_alice, topic):
    response = bare_client.post(unsubscribe_path(subscribed_alice, topic))
    assert response.status_code == 200
    assert b"unsubscribed" in response.content
    assert ConsentEvent.objects.get().source == "unsubscribe_link"


def test_it_makes_unsubscribing_twice_harmless(bare_client, subscribed_alice, topic):
    path = unsubscribe_path(subscribed_alice, topic)
    first = bare_client.post(path, data={"List-Unsubscribe": "One-Click"})
    second = bare_client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert first.status_code == second.status_code == 200
    assert ConsentEvent.objects.count() == 1
    assert status_of(subscribed_alice, topic) == "unsubscribed"


def test_it_writes_an_opt_out_for_a_contact_without_a_subscription(bare_client, alice, topic):
    bare_client.post(unsubscribe_path(alice, topic), data={"List-Unsubscribe": "One-Click"})
    assert status_of(alice, topic) == "unsubscribed"


def test_it_unsubscribes_from_all_from_the_page(bare_client, subscribed_alice, topic, other_topic):
    SubscriptionFactory(contact=subscribed_alice, topic=other_topic)
    response = bare_client.post(unsubscribe_path(subscribed_alice, topic), data={"scope": "all"})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert set(Subscription.objects.values_list("status", flat=True)) == {"unsubscribed"}
    assert Suppression.objects.filter(reason="unsubscribed_all").count() == 1
    assert sorted(ConsentEvent.objects.values_list("action", flat=True)) == [
        "unsubscribed",
        "unsubscribed",
        "unsubscribed_all",
    ]
    assert set(ConsentEvent.objects.values_list("source", flat=True)) == {"unsubscribe_link"}


@override_settings(SUBSCRIBE_RATE_LIMIT="1/h")
def test_it_never_rate_limits_one_click(bare_client, topic):
    contacts = [ContactFactory() for _ in range(5)]
    for contact in contacts:
        SubscriptionFactory(contact=contact, topic=topic)
        response = bare_client.post(
            unsubscribe_path(contact, topic), data={"List-Unsubscribe": "One-Click"}
        )
        assert response.status_code == 200
    assert Subscription.objects.filter(status="unsubscribed").count() == 5


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_refuses_forged_and_truncated_unsubscribe_tokens(
    db_snapshot, client, subscribed_alice, topic, method
):
    good = unsubscribe_token(subscribed_alice, topic)
    before = db_snapshot()
    for token in [good[:-3], good[:10], "garbage", good + "x", preferences_token(subscribed_alice)]:
        response = getattr(client, method)(reverse("unsubscribe", args=[token]))
        assert response.status_code == 404
        assert b"This link does not work" in response.content
    assert db_snapshot() == before


def test_it_refuses_a_token_for_an_unknown_topic(db_snapshot, client, subscribed_alice):
    token = signing.dumps(
        {"c": subscribed_alice.token_key.hex, "t": "no-such-topic"}, salt=UNSUBSCRIBE, compress=True
    )
    before = db_snapshot()
    assert client.post(reverse("unsubscribe", args=[token])).status_code == 404
    assert db_snapshot() == before


def test_it_shows_the_unsubscribe_page_in_danish(client, subscribed_alice, topic):
    subscribed_alice.locale = "da"
    subscribed_alice.save()
    response = client.get(unsubscribe_path(subscribed_alice, topic))
    assert b"Afmeld" in response.content
    assert b'lang="da"' in response.content


# --- subscribe and confirm ---------------------------------------------------------------------


def subscribe(client, email, *topics, meta=None, **extra):
    """Post the form, then run what it queued, as the transactional worker would."""
    data = {"email": email, "topics": [t.pk for t in topics], "consent": "on", **extra}
    response = client.post(reverse("subscribe"), data, **(meta or {}))
    run_queued_form_tasks()
    return response


def test_it_shows_the_subscribe_form(client, topic):
    response = client.get(reverse("subscribe"))
    assert response.status_code == 200
    assert b"Product news" in response.content
    assert b'name="website"' in response.content  # the honeypot


def test_it_starts_a_double_opt_in(client, topic, send_queued_transactional):
    response = subscribe(client, "New.Person@Example.COM", topic)
    assert response.status_code == 200
    contact = Contact.objects.get()
    assert contact.email == "New.Person@example.com"
    assert status_of(contact, topic) == "pending"
    event = ConsentEvent.objects.get()
    assert (event.action, event.source) == ("subscribe_requested", "subscribe_form")
    assert "I agree to receive emails" in event.wording
    (message,) = send_queued_transactional()
    assert "/confirm/" in message.body


def test_it_answers_the_same_for_known_and_unknown_addresses(client, subscribed_alice, topic):
    known = subscribe(client, subscribed_alice.email, topic)
    unknown = subscribe(client, "stranger@example.com", topic)
    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content


def test_it_does_nothing_for_a_filled_honeypot(client, topic):
    response = subscribe(client, "bot@example.com", topic, website="http://spam.example")
    assert response.status_code == 200
    assert b"Check your inbox" in response.content
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"email": "not-an-address", "topics": "TOPIC", "consent": "on"},
        {"email": "a@example.com", "topics": "999999", "consent": "on"},
        {"email": "a@example.com", "topics": "nonsense", "consent": "on"},
        {"email": "a@example.com", "topics": "TOPIC"},
    ],
    ids=["invalid-address", "unknown-topic", "garbage-topic", "no-consent"],
)
def test_it_refuses_bad_subscribe_input(client, topic, data):
    data = {k: (str(topic.pk) if v == "TOPIC" else v) for k, v in data.items()}
    response = client.post(reverse("subscribe"), data)
    assert response.status_code == 400
    assert b"errorlist" in response.content
    assert not Contact.objects.exists()


@override_settings(SUBSCRIBE_RATE_LIMIT="2/h")
def test_it_rate_limits_the_subscribe_form_per_ip(client, topic):
    assert subscribe(client, "a@example.com", topic).status_code == 200
    assert subscribe(client, "b@example.com", topic).status_code == 200
    refused = subscribe(client, "c@example.com", topic)
    assert (refused.status_code, refused["Retry-After"]) == (429, "3600")
    assert Contact.objects.count() == 2
    # Another address of origin has its own window.
    assert (
        subscribe(client, "d@example.com", topic, meta={"REMOTE_ADDR": "10.0.0.9"}).status_code
        == 200
    )


def test_it_confirms_on_post_only(client, topic, send_queued_transactional):
    subscribe(client, "new@example.com", topic)
    contact = Contact.objects.get()
    path = reverse("confirm", args=[confirm_token(ConfirmationRequest.objects.get())])
    page = client.get(path)
    assert page.status_code == 200
    assert status_of(contact, topic) == "pending"
    response = client.post(path)
    assert response.status_code == 200
    assert status_of(contact, topic) == "subscribed"
    last = ConsentEvent.objects.latest("id")
    assert (last.action, last.source) == ("confirmed", "confirmation")
    # A repeated POST says the link was used and records nothing.
    count = ConsentEvent.objects.count()
    again = client.post(path)
    assert again.status_code == 410
    assert b"already been used" in again.content
    assert ConsentEvent.objects.count() == count


def test_it_refuses_an_expired_confirmation(client, alice, topic):
    token = signing.dumps(
        {"c": alice.token_key.hex, "t": [topic.slug]}, salt=CONFIRM, compress=True
    )
    later = datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(days=30)
    with mock.patch("django.core.signing.time.time", return_value=later.timestamp()):
        response = client.post(reverse("confirm", args=[token]))
    assert response.status_code == 410
    assert not Subscription.objects.exists()


# --- preference link by address ------------------------------------------------------------------


def ask_for_link(client, email, **extra):
    """Post the lost-link form, then run what it queued, as the transactional worker would."""
    response = client.post(reverse("preferences_request"), {"email": email}, **extra)
    run_queued_form_tasks()
    return response


def test_it_sends_a_preference_link_to_a_known_address(client, alice, send_queued_transactional):
    response = ask_for_link(client, "ALICE@example.com")
    assert response.status_code == 200
    (message,) = send_queued_transactional()
    assert message.to == ["alice@example.com"]
    assert "/preferences/" in message.body


def test_it_answers_the_same_for_an_unknown_address(client, alice, send_queued_transactional):
    known = ask_for_link(client, alice.email)
    unknown = ask_for_link(client, "nobody@example.com")
    assert known.content == unknown.content
    assert len(send_queued_transactional()) == 1


def test_it_refuses_an_invalid_address_for_a_link(client, db):
    response = ask_for_link(client, "nope")
    assert response.status_code == 400
    assert b"valid email address" in response.content


@override_settings(PREFERENCE_LINK_RATE_LIMIT_EMAIL="2/h", PREFERENCE_LINK_RATE_LIMIT_IP="100/h")
def test_it_limits_links_per_address_silently(client, alice, send_queued_transactional):
    answers = {ask_for_link(client, alice.email).content for _ in range(4)}
    assert len(answers) == 1
    assert len(send_queued_transactional()) == 2


@override_settings(PREFERENCE_LINK_RATE_LIMIT_IP="2/h")
def test_it_limits_links_per_ip(client, db):
    assert ask_for_link(client, "a@example.com").status_code == 200
    assert ask_for_link(client, "b@example.com").status_code == 200
    refused = ask_for_link(client, "c@example.com")
    assert (refused.status_code, refused["Retry-After"]) == (429, "3600")


def test_it_renders_emails_in_the_contacts_language(alice, send_queued_transactional):
    alice.locale = "da"
    alice.save()
    send_preference_link(contact=alice)
    (message,) = send_queued_transactional()
    assert "præferencer" in message.subject.lower()
    html = message.alternatives[0][0]
    assert "/preferences/" in html


def test_it_shows_the_subscribe_form_in_the_visitors_language(client, topic):
    response = client.get(reverse("subscribe"), HTTP_ACCEPT_LANGUAGE="da")
    assert b"Tilmeld dig e-mails" in response.content


def test_it_has_a_complete_danish_translation():
    po = Path(settings.BASE_DIR, "locale/da/LC_MESSAGES/django.po").read_text(encoding="utf-8")
    entries = po.split("\n\n")[1:]
    untranslated = [e for e in entries if 'msgstr ""' in e and 'msgstr ""\n"' not in e]
    assert not untranslated
    assert "#, fuzzy" not in po
    assert Path(settings.BASE_DIR, "locale/da/LC_MESSAGES/django.mo").stat().st_size > 1000


def test_it_pre_ticks_topics_named_in_the_link(client, topic, other_topic):
    body = client.get(reverse("subscribe") + "?topic=weekly-digest&topic=nope").content.decode()
    assert f'value="{other_topic.pk}" id="id_topics_1" checked>' in body
    assert f'value="{topic.pk}" id="id_topics_0">' in body


def test_it_shows_a_styled_page_for_a_token_with_a_slash(client, db):
    response = client.post("/unsubscribe/abc/def/", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 404
    assert b"This link does not work" in response.content


def test_it_shows_a_styled_page_when_the_csrf_check_fails(subscribed_alice, bare_client):
    path = reverse("preferences", args=[preferences_token(subscribed_alice)])
    before = ConsentEvent.objects.count()
    response = bare_client.post(path, {"action": "unsubscribe_all"})
    assert response.status_code == 403
    assert b"This form has expired" in response.content
    assert ConsentEvent.objects.count() == before


def test_it_keeps_a_new_contacts_language_and_age_but_not_a_strangers_change(client, alice, topic):
    subscribe(
        client, "ny@example.dk", topic, age_confirmed="on", meta={"HTTP_ACCEPT_LANGUAGE": "da"}
    )
    new = Contact.objects.get(email="ny@example.dk")
    # The age box waits with the request: it reaches the contact when the person confirms.
    assert (new.locale, new.age_confirmed) == ("da", False)
    client.post(reverse("confirm", args=[confirm_token(ConfirmationRequest.objects.get())]))
    new.refresh_from_db()
    assert (new.locale, new.age_confirmed) == ("da", True)
    subscribe(client, alice.email, topic, meta={"HTTP_ACCEPT_LANGUAGE": "da"})
    alice.refresh_from_db()
    assert alice.locale == "en"


DEAD_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}


@override_settings(CACHES=DEAD_REDIS, CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_it_unsubscribes_with_redis_down(bare_client, subscribed_alice, topic):
    response = bare_client.post(
        unsubscribe_path(subscribed_alice, topic), data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    assert status_of(subscribed_alice, topic) == "unsubscribed"


@override_settings(CACHES=DEAD_REDIS)
def test_it_still_serves_the_subscribe_form_with_the_cache_down(client, topic):
    assert subscribe(client, "a@example.com", topic).status_code == 200


def read_po(path) -> list[dict]:
    """The entries of a .po file: flags, msgid, msgid_plural and every msgstr form, unescaped."""
    entries, entry, field = [], None, None

    def unquote(text: str) -> str:
        return ast.literal_eval(text.strip())

    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry is not None:
                entries.append(entry)
            entry, field = None, None
            continue
        entry = entry if entry is not None else {"flags": set(), "msgstr": {}, "obsolete": False}
        if line.startswith("#~"):
            entry["obsolete"] = True
        elif line.startswith("#,"):
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            if field[0] == "msgstr":
                entry["msgstr"][field[1]] += unquote(line)
            else:
                entry[field[0]] += unquote(line)
        else:
            keyword, _, value = line.partition(" ")
            if keyword.startswith("msgstr"):
                form = int(keyword[7:-1]) if "[" in keyword else 0
                field = ("msgstr", form)
                entry["msgstr"][form] = unquote(value)
            else:
                field = (keyword, None)
                entry[keyword] = unquote(value)
    return entries


def test_it_translates_every_message_to_danish_in_one_compiled_catalog():
    catalog = Path(settings.BASE_DIR, "locale/da/LC_MESSAGES")
    entries = [e for e in read_po(catalog / "django.po") if e.get("msgid")]
    assert len(entries) > 300  # the whole product, not a hand-kept corner of it

    incomplete = [
        e["msgid"]
        for e in entries
        if "fuzzy" in e["flags"]
        or e["obsolete"]
        or not e["msgstr"]
        or not all(e["msgstr"].values())
        or ("msgid_plural" in e and len(e["msgstr"]) != 2)
    ]
    assert not incomplete, f"translate to Danish: {incomplete}"
    # One catalog per language: no app keeps a second one beside it.
    assert not list(Path(settings.BASE_DIR, "subscriptions").glob("**/locale"))

    # The committed .mo is compiled from this .po (a fresh clone runs with the same strings).
    with open(catalog / "django.mo", "rb") as compiled:
        translations = gettext.GNUTranslations(compiled)

    def compiled_forms(entry: dict) -> dict[int, str]:
        if "msgid_plural" not in entry:
            return {0: translations.gettext(entry["msgid"])}
        plural = entry["msgid_plural"]
        return {n - 1: translations.ngettext(entry["msgid"], plural, n) for n in (1, 2)}

    stale = [e["msgid"] for e in entries if compiled_forms(e) != e["msgstr"]]
    assert not stale, f"run `manage.py compilemessages`: {stale}"
