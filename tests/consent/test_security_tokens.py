"""Issue 9, roads 1 and 3 (and from 11): the attacks on tokens and confirmations, replayed.

Each test is written as the attack the security review ran from outside: it failed on the
code before the fix and passes now.
"""

from __future__ import annotations

import datetime
import re
import threading
from html import unescape
from unittest import mock
from urllib.parse import unquote, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core import mail, signing
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from subscriptions.consent.ledger import Actor
from subscriptions.consent.signup import signup_request
from subscriptions.consent.subscriptions import contact_unsubscribe_all
from subscriptions.consent.suppression import suppression_add
from subscriptions.consent.tokens import (
    CONFIRM,
    PREFERENCES,
    PRIVACY_REQUEST,
    UNSUBSCRIBE,
    preferences_url,
    privacy_request_token,
    read_preference_link,
    unsubscribe_token,
)
from subscriptions.feedback.reports import Feedback, feedback_record
from subscriptions.models import (
    ConfirmationRequest,
    ConsentEvent,
    Contact,
    LinkHit,
    PrivacyRequest,
    Subscription,
    Suppression,
    TransactionalMessage,
)
from tests.factories import ContactFactory, SubscriptionFactory, TopicFactory
from tests.form_tasks import run_queued_form_tasks

# Staff adding a suppression by hand (source `admin`).
STAFF = Actor(source="admin")

pytestmark = pytest.mark.usefixtures("fresh_rate_limits")

LINK = re.compile(r'(?:href|action)="([^"]*)"')
TOKEN_PAGES = ("/preferences/", "/unsubscribe/", "/confirm/", "/privacy/")
YEARS_AGO = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC).timestamp()


def status_of(contact, topic) -> str | None:
    subscription = Subscription.objects.filter(contact=contact, topic=topic).first()
    return subscription.status if subscription else None


def links_in(page: str, base: str) -> list[str]:
    """Every href and form action of a page, as paths (an empty action posts to `base`)."""
    found = []
    for raw in LINK.findall(page):
        url = unescape(raw)
        path = urlsplit(url).path if url else base
        found.append(path or base)
    return found


def tokens_in(paths: list[str]) -> set[str]:
    """Every token carried by a token page's path (the last non-empty segment)."""
    tokens = set()
    for path in paths:
        if path.startswith(TOKEN_PAGES):
            segment = [s for s in path.split("/") if s][-1]
            tokens.add(unquote(segment))
    return tokens


def sign_up(email: str, topic, client: Client | None = None, **extra):
    """Post the sign-up form, then do the queued work a transactional worker would."""
    data = {"email": email, "topics": [topic.pk], "consent": "on", **extra}
    response = (client or Client()).post(reverse("subscribe"), data)
    run_queued_form_tasks()
    return response


def confirm_path_in(message) -> str:
    return urlsplit(re.search(r"https?://\S+/confirm/\S+?/(?=\s|$)", message.body)[0]).path


def complain(contact) -> None:
    """What an ESP's spam-complaint webhook does."""
    feedback_record(
        feedback=Feedback(
            esp="postmark", kind="complaint", recipient=contact.email, event_id="complaint-1"
        )
    )


def opt_in_rows() -> int:
    return ConsentEvent.objects.filter(
        action__in=["subscribed", "confirmed", "unsuppressed"]
    ).count()


@pytest.fixture
def walked_away(topic, other_topic):
    """Ann: subscribed once, then unsubscribed from all and complained."""
    ann = ContactFactory(email="ann@example.com")
    SubscriptionFactory(contact=ann, topic=topic)
    SubscriptionFactory(contact=ann, topic=other_topic)
    with mock.patch("django.core.signing.time.time", return_value=YEARS_AGO):
        old_link = reverse("unsubscribe", args=[unsubscribe_token(ann, topic)])
    Client().post(old_link, {"scope": "all"})
    complain(ann)
    assert set(Suppression.objects.values_list("reason", flat=True)) == {
        "unsubscribed_all",
        "complaint",
    }
    return ann, old_link


# --- road 1: laundering ------------------------------------------------------------------------


def test_it_walks_every_link_from_an_old_unsubscribe_link_and_none_joins_a_topic(
    walked_away, topic, other_topic, send_queued_transactional
):
    ann, old_link = walked_away
    client = Client()
    unsubscribe_page = client.get(old_link)
    assert unsubscribe_page.status_code == 200
    first = links_in(unsubscribe_page.content.decode(), old_link)
    preference_pages = [p for p in first if p.startswith("/preferences/") and p != "/preferences/"]
    assert preference_pages, "the unsubscribe page links the preference page"
    seen = set(first)
    for path in preference_pages:
        page = client.get(path)
        assert page.status_code == 200
        seen.update(links_in(page.content.decode(), path))
    tokens = tokens_in(sorted(seen))
    assert len(tokens) >= 3  # the unsubscribe link, the preference link, the privacy buttons
    suppressions = set(Suppression.objects.values_list("address_hash", "reason"))
    opt_ins = opt_in_rows()
    join_everything = {"action": "save", f"on-{topic.slug}": "on", f"on-{other_topic.slug}": "on"}
    for token in tokens:
        for page in ("preferences", "confirm"):
            path = f"/{page}/{token}/"
            assert client.get(path).status_code < 500
            assert client.post(path, join_everything).status_code < 500
    # Nothing joined directly, nothing was lifted, the ledger has no new consent in it.
    assert {status_of(ann, topic), status_of(ann, other_topic)} <= {"unsubscribed", "pending"}
    assert set(Suppression.objects.values_list("address_hash", "reason")) == suppressions
    assert opt_in_rows() == opt_ins
    # A confirmation email at most: the mailbox decides.
    assert {m.kind for m in TransactionalMessage.objects.all()} <= {"confirm", "privacy_verify"}


def test_it_gives_the_privacy_buttons_a_token_that_opens_no_preference_page(
    subscribed_alice, topic, send_queued_transactional
):
    client = Client()
    preference_path = urlsplit(preferences_url(subscribed_alice)).path
    html = client.get(preference_path).content.decode()
    buttons = [p for p in links_in(html, preference_path) if p.startswith("/privacy/request/")]
    assert len(buttons) == 2
    (token,) = tokens_in(buttons)
    path = reverse("preferences", args=[token])
    before = (opt_in_rows(), status_of(subscribed_alice, topic))
    assert client.get(path).status_code == 404
    response = client.post(path, {"action": "unsubscribe_all"})
    assert response.status_code == 404
    assert client.post(path, {"action": "save"}).status_code == 404
    assert (opt_in_rows(), status_of(subscribed_alice, topic)) == before
    assert not Suppression.objects.exists()
    # ...but it does what the button says: emails a verification link.
    export = client.post(buttons[0])
    assert export.status_code == 200
    assert PrivacyRequest.objects.filter(contact=subscribed_alice).count() == 1
    (message,) = send_queued_transactional()
    assert "/privacy/" in message.body


def test_it_keeps_the_privacy_buttons_working_on_the_signed_in_account_page(
    client, send_queued_transactional
):
    user = get_user_model().objects.create_user("ann", "ann@example.com", "pw")
    client.force_login(user)
    html = client.get(reverse("account_preferences")).content.decode()
    buttons = [p for p in links_in(html, "/") if p.startswith("/privacy/request/")]
    assert len(buttons) == 2
    (token,) = tokens_in(buttons)
    assert Client().get(reverse("preferences", args=[token])).status_code == 404
    assert client.post(buttons[1]).status_code == 200
    assert PrivacyRequest.objects.get().action == "erase"


@pytest.mark.parametrize("reason", ["unsubscribed_all", "complaint"])
def test_it_sends_a_confirmation_instead_of_lifting_from_a_fresh_campaign_link(
    reason, topic, send_queued_transactional
):
    ann = ContactFactory(email="ann@example.com")
    SubscriptionFactory(contact=ann, topic=topic, status="unsubscribed")
    suppression_add(hashed=ann.address_hash, reason=reason, scope="marketing", by=STAFF)
    fresh = urlsplit(preferences_url(ann)).path  # what a campaign mailed today carries
    assert read_preference_link(fresh.split("/")[2]).via == "campaign"
    response = Client().post(fresh, {"action": "save", f"on-{topic.slug}": "on"})
    assert response.status_code == 302
    assert status_of(ann, topic) == "pending"
    assert Suppression.objects.filter(reason=reason).exists()
    assert opt_in_rows() == 0
    (message,) = send_queued_transactional()
    # The person's own click on the emailed link is what lifts it.
    Client().post(confirm_path_in(message))
    assert status_of(ann, topic) == "subscribed"
    assert not Suppression.objects.filter(reason=reason).exists()


def test_it_never_hands_out_a_link_fresher_than_the_one_that_led_there(
    walked_away, topic, send_queued_transactional
):
    ann, old_link = walked_away
    client = Client()
    for path in links_in(client.get(old_link).content.decode(), old_link):
        if path.startswith("/preferences/") and path != "/preferences/":
            link = read_preference_link(unquote(path.split("/")[2]))
            assert (link.issued_at.year, link.via) == (1970, "unsubscribe_page")
    done = client.post(old_link).content.decode()
    for path in links_in(done, old_link):
        if path.startswith("/preferences/") and path != "/preferences/":
            assert read_preference_link(unquote(path.split("/")[2])).issued_at.year == 1970
    # The confirm-done page: no fresher than the confirmation email itself.
    sign_up(ann.email, topic)
    (message,) = send_queued_transactional()
    sent_at = ConfirmationRequest.objects.get().created_at
    later = timezone.now() + datetime.timedelta(hours=5)
    with mock.patch("django.utils.timezone.now", return_value=later):
        page = client.post(confirm_path_in(message)).content.decode()
    (prefs,) = [p for p in links_in(page, "/") if p.startswith("/preferences/")]
    link = read_preference_link(unquote(prefs.split("/")[2]))
    assert link.via == "confirmation"
    assert link.issued_at <= sent_at


# --- road 3: replay ----------------------------------------------------------------------------


@pytest.fixture
def confirm_path(topic, send_queued_transactional):
    sign_up("ann@example.com", topic)
    (message,) = send_queued_transactional()
    mail.outbox.clear()
    return confirm_path_in(message)


def test_it_refuses_a_replayed_confirmation(confirm_path, topic, db_snapshot):
    client = Client()
    assert client.post(confirm_path).status_code == 200
    ann = Contact.objects.get()
    assert status_of(ann, topic) == "subscribed"
    before = db_snapshot()
    replay = client.post(confirm_path)
    assert replay.status_code == 410
    assert "already been used" in replay.content.decode()
    assert client.get(confirm_path).status_code == 410
    assert db_snapshot() == before


def test_it_shows_already_used_in_the_contacts_language(topic, send_queued_transactional):
    sign_up("ny@example.dk", topic, client=Client(HTTP_ACCEPT_LANGUAGE="da"))
    (message,) = send_queued_transactional()
    client = Client()
    client.post(confirm_path_in(message))
    page = client.post(confirm_path_in(message), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 410
    assert '<html lang="da"' in page.content.decode()
    assert "Dette link er allerede brugt" in page.content.decode()


@pytest.mark.parametrize("opt_out", ["unsubscribe_all", "unsubscribe_topic", "complaint"])
def test_it_refuses_a_confirmation_overtaken_by_an_opt_out(
    opt_out, confirm_path, topic, db_snapshot
):
    client = Client()
    assert client.post(confirm_path).status_code == 200
    ann = Contact.objects.get()
    unsubscribe = reverse("unsubscribe", args=[unsubscribe_token(ann, topic)])
    if opt_out == "complaint":
        complain(ann)
    else:
        Client().post(unsubscribe, {"scope": "all"} if opt_out == "unsubscribe_all" else {})
    assert status_of(ann, topic) == "unsubscribed"
    before = db_snapshot()
    replay = client.post(confirm_path)
    assert replay.status_code == 410
    assert db_snapshot() == before
    assert status_of(ann, topic) == "unsubscribed"


@pytest.mark.parametrize("opt_out", ["unsubscribe_all", "complaint"])
def test_it_refuses_an_unused_confirmation_sent_before_an_opt_out(
    opt_out, confirm_path, topic, other_topic, db_snapshot
):
    ann = Contact.objects.get()
    SubscriptionFactory(contact=ann, topic=other_topic)
    if opt_out == "complaint":
        complain(ann)
    else:
        Client().post(
            reverse("unsubscribe", args=[unsubscribe_token(ann, other_topic)]), {"scope": "all"}
        )
    before = db_snapshot()
    page = Client().get(confirm_path)
    assert page.status_code == 410
    assert "no longer" in page.content.decode()
    assert Client().post(confirm_path).status_code == 410
    assert db_snapshot() == before
    assert Suppression.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_confirms_once_when_two_posts_race(topic):
    from subscriptions.models import Topic

    topic = Topic.objects.get(pk=topic.pk)
    # Committed at once here: the sign-up's queued work is done as its task would do it.
    signup_request(email="ann@example.com", topics=[topic], by=Actor(source="subscribe_form"))
    from subscriptions.consent.tokens import confirm_token

    path = reverse("confirm", args=[confirm_token(ConfirmationRequest.objects.get())])
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def click():
        try:
            barrier.wait()
            answers.append(Client().post(path).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 410]
    assert ConsentEvent.objects.filter(action="confirmed").count() == 1


# --- from road 11 ------------------------------------------------------------------------------


def test_it_keeps_a_strangers_age_box_off_a_known_contact_until_the_person_confirms(
    alice, topic, send_queued_transactional
):
    assert not alice.age_confirmed
    response = sign_up(alice.email, topic, age_confirmed="on")
    assert response.status_code == 200
    alice.refresh_from_db()
    assert not alice.age_confirmed
    (message,) = send_queued_transactional()
    Client().post(confirm_path_in(message))
    alice.refresh_from_db()
    assert alice.age_confirmed


def test_it_limits_confirmation_mails_per_address_not_per_ip(
    alice, topic, settings, send_queued_transactional
):
    settings.CONFIRMATION_RATE_LIMIT_EMAIL = "3/h"
    answers = set()
    for n in range(15):
        # One mailbox, spelled as it comes, from fifteen addresses.
        email = "Alice@Example.COM" if n % 2 else "alice@example.com"
        response = sign_up(email, topic, client=Client(REMOTE_ADDR=f"198.51.100.{n + 1}"))
        answers.add((response.status_code, response.content))
    assert len(answers) == 1  # the same answer under and over the limit
    assert len(send_queued_transactional()) == 3
    assert ConfirmationRequest.objects.count() == 3


def test_it_counts_fifty_opens_of_one_unsubscribe_page_in_one_row(subscribed_alice, topic):
    path = reverse("unsubscribe", args=[unsubscribe_token(subscribed_alice, topic)])
    client = Client(HTTP_USER_AGENT="Scanner/3")
    for _n in range(50):
        assert client.get(path).status_code == 200
    hit = LinkHit.objects.get()
    assert (hit.count, hit.kind, hit.topic, hit.user_agent) == (
        50,
        "unsubscribe",
        topic,
        "Scanner/3",
    )
    assert hit.day == timezone.now().date()


@pytest.mark.django_db(transaction=True)
def test_it_folds_existing_link_hits_into_one_row_per_day(subscribed_alice, topic, owner):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("subscriptions.migrations.0011_confirmation_requests")
    constraint = next(c for c in LinkHit._meta.constraints if c.name == "one_link_hit_row_per_day")
    # Rows as they were before 0011: several per day. Only the owner may change the schema.
    with connection.schema_editor(collect_sql=True) as editor:
        editor.add_constraint(LinkHit, constraint)
    owner.execute(f"ALTER TABLE {LinkHit._meta.db_table} DROP CONSTRAINT {constraint.name}")
    morning = datetime.datetime(2026, 3, 2, 8, tzinfo=datetime.UTC)
    for minutes, agent in ((0, "A"), (30, "B"), (60, "C")):
        at = morning + datetime.timedelta(minutes=minutes)
        LinkHit.objects.create(
            contact=subscribed_alice,
            topic=topic,
            kind="unsubscribe",
            user_agent=agent,
            created_at=at,
            last_at=at,
        )
    LinkHit.objects.create(
        contact=subscribed_alice,
        topic=topic,
        kind="unsubscribe",
        user_agent="D",
        created_at=morning + datetime.timedelta(days=1),
    )
    migration.fold_link_hits(apps, None)
    # The folded rows satisfy the constraint again.
    for statement in editor.collected_sql:
        owner.execute(statement)
    rows = list(LinkHit.objects.order_by("day").values_list("day", "count", "user_agent"))
    assert rows == [
        (datetime.date(2026, 3, 2), 3, "C"),
        (datetime.date(2026, 3, 3), 1, "D"),
    ]
    first = LinkHit.objects.order_by("day").first()
    assert (first.created_at, first.last_at) == (morning, morning + datetime.timedelta(hours=1))


def test_it_treats_a_confirmation_link_from_before_single_use_as_expired(
    subscribed_alice, topic, db_snapshot
):
    # Mailed before this change: no nonce, so nothing could tell its second use from its first.
    legacy = signing.dumps({"c": subscribed_alice.token_key.hex, "t": [topic.slug]}, salt=CONFIRM)
    contact_unsubscribe_all(contact=subscribed_alice, by=Actor(source="unsubscribe_link"))
    before = db_snapshot()
    assert Client().post(reverse("confirm", args=[legacy])).status_code == 410
    assert db_snapshot() == before


def test_it_keeps_every_token_opaque(subscribed_alice, topic, send_queued_transactional):
    sign_up(subscribed_alice.email, TopicFactory(slug="other"))
    (message,) = send_queued_transactional()
    confirm = confirm_path_in(message).split("/")[2]
    samples = {
        UNSUBSCRIBE: unsubscribe_token(subscribed_alice, topic),
        PREFERENCES: preferences_url(subscribed_alice).split("/")[-2],
        PRIVACY_REQUEST: privacy_request_token(subscribed_alice),
        CONFIRM: unquote(confirm),
    }
    for salt, token in samples.items():
        payload = signing.loads(token, salt=salt)
        readable = repr(payload).lower()
        assert "alice" not in readable and "example" not in readable
        # Only the random token key, times, kinds and nonces; no sequential id anywhere.
        assert set(payload) <= {"c", "t", "i", "v", "n"}
        assert str(subscribed_alice.pk) not in {str(v) for v in payload.values()}


def test_it_records_how_each_mailed_preference_link_reached_the_person(
    subscribed_alice, send_queued_transactional, fresh_rate_limits
):
    Client().post(reverse("preferences_request"), {"email": subscribed_alice.email})
    run_queued_form_tasks()
    (message,) = send_queued_transactional()
    token = unquote(re.search(r"/preferences/(\S+?)/(?=\s|$)", message.body)[1])
    link = read_preference_link(token)
    assert link.via == "lost_link"
    assert abs((timezone.now() - link.issued_at).total_seconds()) < 5


def test_it_exports_the_confirmation_requests_with_their_age_box(
    alice, topic, send_queued_transactional
):
    from subscriptions.privacy.export import contact_export

    sign_up(alice.email, topic, age_confirmed="on")
    (request,) = contact_export(contact=alice, by=Actor(source="api"))["confirmation_requests"]
    assert (request["topics"], request["age_confirmed"], request["used_at"]) == (
        [topic.slug],
        True,
        None,
    )


def test_it_deletes_confirmation_requests_once_their_link_has_expired(alice, topic, settings):
    from subscriptions.privacy.retention import retention_delete_confirmation_requests

    settings.CONFIRMATION_MAX_AGE_HOURS = 72
    now = timezone.now()
    for age in (datetime.timedelta(days=5), datetime.timedelta(days=3)):
        ConfirmationRequest.objects.create(contact=alice, created_at=now - age)
    assert retention_delete_confirmation_requests(now=now, dry_run=True) == 1
    assert retention_delete_confirmation_requests(now=now) == 1
    assert ConfirmationRequest.objects.get().created_at == now - datetime.timedelta(days=3)


def test_it_shows_staff_the_confirmation_emails_of_a_contact(
    admin_client, alice, topic, send_queued_transactional
):
    sign_up(alice.email, topic, age_confirmed="on")
    page = admin_client.get(reverse("admin:subscriptions_contact_change", args=[alice.pk]))
    assert page.status_code == 200
    assert "Confirmation emails (single-use links)" in page.content.decode()
    assert "Product news" in page.content.decode()


# --- the signed-in account page: a staff session is not the person's mailbox ---------------------


def test_a_staff_user_linked_to_a_contact_cannot_take_back_its_opt_out(
    topic, send_queued_transactional
):
    """/account/preferences/ sits behind the admin login, and the admin lets staff point a
    contact's `user` at themselves (or give their own account the person's address). From that
    page a topic the person left must not come back as the person's own `preference_page`
    consent: rule 5 lets only the person undo an opt-out, where their mailbox is proven."""
    ann = ContactFactory(email="ann@example.com")
    SubscriptionFactory(contact=ann, topic=topic)
    Client().post(reverse("unsubscribe", args=[unsubscribe_token(ann, topic)]))
    assert status_of(ann, topic) == "unsubscribed"
    staff = get_user_model().objects.create_user("mallory", "ann@example.com", "pw", is_staff=True)
    client = Client()
    client.force_login(staff)

    page = client.get(reverse("account_preferences"))
    assert page.status_code == 200
    response = client.post(
        reverse("account_preferences"), {"action": "save", f"on-{topic.slug}": "on"}
    )

    assert response.status_code == 302
    assert response["Location"].endswith("?notice=confirm")
    assert status_of(ann, topic) == "pending"
    assert not ConsentEvent.objects.filter(contact=ann, action="subscribed").exists()
    [confirmation] = [m for m in send_queued_transactional() if m.to == ["ann@example.com"]]
    assert "/confirm/" in confirmation.body


def test_a_signed_in_user_still_joins_a_new_topic_directly(topic, other_topic):
    user = get_user_model().objects.create_user("bea", "bea@example.com", "pw")
    client = Client()
    client.force_login(user)

    client.post(reverse("account_preferences"), {"action": "save", f"on-{other_topic.slug}": "on"})

    assert status_of(Contact.objects.get(email="bea@example.com"), other_topic) == "subscribed"


def test_a_staff_user_cannot_give_consent_in_someone_elses_name(
    topic, other_topic, send_queued_transactional
):
    """Issue 14's attack: Mallory (staff) gives her own account Ann's address, opens
    /account/preferences/ (which links Ann's contact to her) and ticks a topic Ann never chose.
    It used to become Ann's own `preference_page` consent, and Mallory could leave topics in
    Ann's name. Now a staff session only asks Ann by email, and what it changes names Mallory."""
    ann = ContactFactory(email="ann@example.com")
    SubscriptionFactory(contact=ann, topic=topic)
    mallory = get_user_model().objects.create_user(
        "mallory", "ann@example.com", "pw", is_staff=True
    )
    client = Client()
    client.force_login(mallory)

    response = client.post(
        reverse("account_preferences"), {"action": "save", f"on-{other_topic.slug}": "on"}
    )

    assert response["Location"].endswith("?notice=confirm")
    assert status_of(ann, other_topic) == "pending"
    assert not ConsentEvent.objects.filter(contact=ann, action="subscribed").exists()
    [confirmation] = [m for m in send_queued_transactional() if m.to == ["ann@example.com"]]
    assert "/confirm/" in confirmation.body
    # Leaving product-news happened, but as the staff user's act, not as Ann's own.
    assert status_of(ann, topic) == "unsubscribed"
    left = ConsentEvent.objects.get(contact=ann, topic=topic, action="unsubscribed")
    assert (left.source, left.staff_user, left.actor) == ("admin", mallory, "mallory")
    assert not ConsentEvent.objects.filter(contact=ann, source="preference_page").exists()


def test_a_confirmation_mailed_by_a_worker_whose_clock_runs_ahead_is_still_overtaken(
    topic, send_queued_transactional, db_snapshot
):
    """The ledger's times come from the database clock; the confirmation's came from the
    worker's. With the worker 30 s ahead, an unsubscribe-all made just after the mail looked
    older than it, and the link then re-subscribed Ann and lifted her unsubscribe-all."""
    ahead = timezone.now() + datetime.timedelta(seconds=30)
    worker_clock = ConfirmationRequest._meta.get_field("created_at")
    with mock.patch.object(worker_clock, "default", lambda: ahead):
        sign_up("ann@example.com", topic)
    (message,) = send_queued_transactional()
    ann = Contact.objects.get()
    Client().post(reverse("unsubscribe", args=[unsubscribe_token(ann, topic)]), {"scope": "all"})
    before = db_snapshot()

    response = Client().post(confirm_path_in(message))

    assert response.status_code == 410
    assert db_snapshot() == before
    assert Suppression.objects.filter(reason="unsubscribed_all").exists()
