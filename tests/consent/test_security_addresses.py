"""Issue 9, road 4 (aliases) and its neighbours: one canonical mailbox per address everywhere.

Each attack test is written as the attack: another spelling of an address that opted out, was
bounced or erased must not become a second, subscribable contact; a domain must not be mailed
as another domain; addresses of the sending host must not be accepted at all.
"""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from subscriptions.addresses import (
    InvalidAddress,
    address_hash,
    address_hashes,
    key_hash,
    normalize_email,
)
from subscriptions.campaigns import sending
from subscriptions.campaigns.audience import campaign_build_audience
from subscriptions.campaigns.claims import blocked_contacts
from subscriptions.consent.canonical import contact_locales_clean, contacts_rekey
from subscriptions.consent.contacts import contact_get_or_create
from subscriptions.consent.importing import import_run, import_start
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import contact_unsubscribe_all, subscription_unsubscribe
from subscriptions.consent.suppression import suppression_add, suppression_check
from subscriptions.consent.suppression_lists import suppression_remove
from subscriptions.consent.tokens import read_unsubscribe_token, unsubscribe_token
from subscriptions.feedback.reports import Feedback, feedback_record
from subscriptions.locales import InvalidLocale, normalize_locale
from subscriptions.models import (
    ConsentEvent,
    Contact,
    ContactAddressHash,
    Delivery,
    SoftBounce,
    Subscription,
    Suppression,
    SuppressionRemoval,
    TransactionalMessage,
)
from subscriptions.models.choices import (
    CampaignStatus,
    FeedbackKind,
    ImportRowOutcome,
    SkipReason,
)
from subscriptions.privacy.erasure import contact_erase
from subscriptions.privacy.retention import retention_erase_unconfirmed
from tests.factories import ContactFactory, SubscriptionFactory
from tests.sending_factories import CampaignFactory

# Staff adding a suppression by hand (source `admin`).
STAFF = Actor(source="admin")

V1 = "/api/v1"
QUOTED = '"ann"@example.com'
PLAIN = "ann@example.com"


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["error"] == code, response.json()


# --- the canonical form ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ('"ann"@example.com', "ann@example.com"),
        ('"a\\nn"@example.com', "ann@example.com"),  # a quoted-pair is the character itself
        ("  Ann.Lee+news@Example.COM ", "Ann.Lee+news@example.com"),  # tags and dots kept
        ("user@straße.de", "user@xn--strae-oqa.de"),  # IDNA 2008, not 2003's strasse.de
        ("user@STRASSE.de", "user@strasse.de"),
        ("user@XN--STRAE-OQA.DE", "user@xn--strae-oqa.de"),
        # UTS-46 maps full-width letters and the ideographic full stop:
        ("user@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\u3002com", "user@example.com"),
    ],
)
def test_it_gives_one_canonical_form(raw, canonical):
    assert normalize_email(raw) == canonical
    assert normalize_email(canonical) == canonical


@pytest.mark.parametrize(
    "raw",
    [
        "root@[127.0.0.1]",
        "root@[IPv6:::1]",
        "root@localhost",
        "root@127.0.0.10",
        '"a b"@example.com',
        '"a@b"@example.com',
        '"ann".lee@example.com',
        "user@💩.la",
        "user@ex_ample.com",
    ],
)
def test_it_refuses_addresses_that_are_not_one_public_mailbox(raw):
    with pytest.raises(InvalidAddress):
        normalize_email(raw)


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.one_of(st.emails(), st.text(max_size=80), st.from_regex(r'"[^"]{0,8}"@[^@]{1,20}\Z')))
def test_the_canonical_form_is_a_fixed_point_or_a_clear_refusal(raw):
    try:
        canonical = normalize_email(raw)
    except InvalidAddress:
        return
    assert normalize_email(canonical) == canonical
    assert "@[" not in canonical and '"' not in canonical
    assert address_hashes(canonical)[0] == address_hash(raw)


def test_it_hashes_every_version_of_an_address():
    # Version 1 (before issue 9) wrote straße.de as strasse.de: its rows must still match.
    assert address_hashes("user@straße.de") == [
        address_hash("user@xn--strae-oqa.de"),
        key_hash("user@strasse.de"),
    ]
    assert address_hashes(QUOTED) == [address_hash(PLAIN)]


# --- "ann"@example.com after ann@example.com opted out -------------------------------------------


def _erased(topic):
    contact = ContactFactory(email=PLAIN)
    SubscriptionFactory(contact=contact, topic=topic)
    contact_erase(contact=contact, by=Actor(source="api"))


def _hard_bounced(topic):
    contact = ContactFactory(email=PLAIN)
    SubscriptionFactory(contact=contact, topic=topic)
    suppression_add(email=PLAIN, reason="hard_bounce", by=STAFF)


def _unsubscribed_all(topic):
    contact = ContactFactory(email=PLAIN)
    SubscriptionFactory(contact=contact, topic=topic)
    contact_unsubscribe_all(contact=contact, by=Actor(source="one_click"))


def import_outcomes(topic, content: bytes) -> list[tuple[int, str, str]]:
    """Run the import pipeline over `content`; (line, outcome, detail) of its report rows."""
    run = import_start(
        file=io.BytesIO(content),
        filename="list.csv",
        mode="subscribe",
        topic=topic,
        source="crm",
        actor=Actor(source="import"),
        run_async=False,
    )
    run = import_run(run.pk)
    return list(run.row_errors.order_by("line").values_list("line", "outcome", "detail"))


OPT_OUTS = {"erased": _erased, "hard_bounced": _hard_bounced, "unsubscribed_all": _unsubscribed_all}


def subscribed(topic) -> set:
    return set(Subscription.objects.filter(topic=topic, status="subscribed").values_list("pk"))


def assert_never_subscribed_again(topic, before: set):
    assert not Contact.objects.filter(email__contains='"').exists()
    assert Contact.objects.active().filter(email_key=PLAIN).count() <= 1
    assert subscribed(topic) == before  # (a hard bounce leaves the row; suppression blocks it)
    assert not Contact.objects.marketable(topic).exists()


@pytest.mark.parametrize("opt_out", OPT_OUTS)
def test_the_api_never_subscribes_a_quoted_alias(api, topic, opt_out):
    OPT_OUTS[opt_out](topic)
    before = subscribed(topic)
    created = api.post(f"{V1}/contacts/", {"email": QUOTED})
    if opt_out == "erased":
        assert_error(created, 409, "erased_requires_double_opt_in")
    else:
        assert created.status_code == 200  # the existing contact, not a new one
        assert created.json()["email"] == PLAIN
        url = f"{V1}/contacts/{created.json()['id']}/subscriptions/{topic.slug}/"
        assert_error(
            api.put(url, {"status": "subscribed"}), 409, "resubscribe_requires_confirmation"
        )
    assert_never_subscribed_again(topic, before)


@pytest.mark.parametrize("opt_out", OPT_OUTS)
def test_the_importer_never_subscribes_a_quoted_alias(topic, opt_out):
    OPT_OUTS[opt_out](topic)
    before = subscribed(topic)
    outcomes = import_outcomes(topic, b'email\n"""ann""@example.com"\nANN@EXAMPLE.COM\n')
    # One mailbox: the quoted spelling is the same address as the last row, which is kept out.
    assert [outcome for _line, outcome, _detail in outcomes] == [
        ImportRowOutcome.DUPLICATE,
        ImportRowOutcome.KEPT_SUPPRESSED,
    ]
    assert_never_subscribed_again(topic, before)


@pytest.mark.usefixtures("fresh_rate_limits")
@pytest.mark.parametrize("opt_out", ["hard_bounced", "unsubscribed_all"])
def test_the_subscribe_form_never_makes_a_second_contact(client, topic, opt_out):
    OPT_OUTS[opt_out](topic)
    before = subscribed(topic)
    mail.outbox = []
    data = {"email": QUOTED, "topics": [topic.pk], "consent": "on"}
    assert client.post(reverse("subscribe"), data).status_code == 200
    assert_never_subscribed_again(topic, before)
    if opt_out == "hard_bounced":  # nothing can be sent to a bounced mailbox
        assert not TransactionalMessage.objects.exists()
        assert mail.outbox == []


def test_a_suppression_check_matches_the_quoted_spelling(api, topic):
    _hard_bounced(topic)
    check = api.get(f"{V1}/suppressions/check/", {"email": QUOTED}).json()
    assert check == {"suppressed": True, "scope": "all", "reasons": ["hard_bounce"]}
    response = api.post(f"{V1}/transactional/", {"to": QUOTED, "subject": "Hi", "text_body": "x"})
    assert_error(response, 422, "suppressed")


# --- a Unicode domain is mailed as itself --------------------------------------------------------


def test_it_mails_a_unicode_domain_under_idna_2008(api, topic, send_queued_transactional):
    created = api.post(f"{V1}/contacts/", {"email": "user@straße.de"})
    assert created.json()["email"] == "user@xn--strae-oqa.de"
    contact = Contact.objects.get()
    SubscriptionFactory(contact=contact, topic=topic)
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENDING)
    mail.outbox = []
    campaign_build_audience(campaign=campaign)
    sending.send_until_done(campaign=campaign)
    assert [m.to for m in mail.outbox] == [["user@xn--strae-oqa.de"]]

    api.post(f"{V1}/transactional/", {"to": "user@straße.de", "subject": "Hi", "text_body": "x"})
    (message,) = send_queued_transactional()[1:]
    assert message.to == ["user@xn--strae-oqa.de"]


def test_a_version_1_suppression_still_blocks_the_unicode_domain(api, topic):
    # Written before issue 9: the old code hashed user@straße.de as user@strasse.de.
    Suppression.objects.create(
        address_hash=key_hash("user@strasse.de"), reason="hard_bounce", scope="all", hash_version=1
    )
    contact, _created = contact_get_or_create(email="user@straße.de")
    SubscriptionFactory(contact=contact, topic=topic)
    assert ContactAddressHash.objects.filter(contact=contact, version=1).exists()
    assert not Contact.objects.marketable(topic).exists()
    assert blocked_contacts(topic=topic, contact_ids=[contact.pk]) == {
        contact.pk: SkipReason.SUPPRESSED
    }
    assert Suppression.objects.for_contact(contact).blocking_all_mail().exists()
    assert Suppression.objects.for_address("user@straße.de").blocking_all_mail().exists()
    assert suppression_check(email="USER@xn--strae-oqa.de").reasons == ["hard_bounce"]
    response = api.post(
        f"{V1}/transactional/", {"to": "user@straße.de", "subject": "Hi", "text_body": "x"}
    )
    assert_error(response, 422, "suppressed")


def test_erasure_redacts_the_texts_kept_under_a_version_1_hash(api):
    # Written before issue 9 under the old hash of user@straße.de (user@strasse.de): staff's note
    # and the MTA's reply name the person. Export shows these rows as theirs; erasure must not
    # leave them behind.
    legacy = key_hash("user@strasse.de")
    Suppression.objects.create(
        address_hash=legacy,
        reason="manual",
        hash_version=1,
        note="Ann Lee (CRM-77) asked by phone",
    )
    SoftBounce.objects.create(address_hash=legacy, esp="Postmark", description="Ann Lee: quota")
    SuppressionRemoval.objects.create(address_hash=legacy, reasons="complaint", why="CRM-77 said")
    body = {"email": "user@straße.de", "external_id": "CRM-77", "attributes": {"name": "Ann Lee"}}
    contact_id = api.post(f"{V1}/contacts/", body).json()["id"]

    assert api.delete(f"{V1}/contacts/{contact_id}/").status_code == 204

    texts = [
        *Suppression.objects.values_list("note", flat=True),
        *SoftBounce.objects.values_list("description", flat=True),
        *SuppressionRemoval.objects.values_list("why", flat=True),
    ]
    assert not [text for text in texts if "Ann Lee" in text or "CRM-77" in text], texts


def test_lifting_a_version_1_suppression_is_in_the_ledger_of_its_contact(admin_user, topic):
    legacy, _created = suppression_add(
        hashed=key_hash("user@strasse.de"), reason="complaint", hash_version=1, by=STAFF
    )
    contact, _created = contact_get_or_create(email="user@straße.de")
    assert suppression_check(contact=contact).reasons == ["complaint"]

    suppression_remove(
        suppression=legacy,
        why="the complaint was a mistake",
        by=Actor(source="admin", staff_user=admin_user),
    )

    event = ConsentEvent.objects.get(contact=contact, action="unsuppressed")
    assert (event.old_status, event.staff_user) == ("complaint", admin_user)


def test_new_suppressions_record_the_current_version(db):
    assert suppression_add(email=QUOTED, reason="manual", by=STAFF)[0].hash_version == 2


# --- addresses of the sending host ---------------------------------------------------------------


@pytest.mark.parametrize("email", ["root@[127.0.0.1]", "root@localhost"])
def test_the_api_refuses_host_addresses(api, email):
    assert_error(api.post(f"{V1}/contacts/", {"email": email}), 400, "invalid_email")
    response = api.post(f"{V1}/transactional/", {"to": email, "subject": "Hi", "text_body": "x"})
    assert_error(response, 400, "invalid_email")
    assert not Contact.objects.exists() and not TransactionalMessage.objects.exists()


def test_the_importer_reports_host_addresses_invalid(topic):
    outcomes = import_outcomes(topic, b"email\nroot@[127.0.0.1]\nroot@localhost\n")
    assert [(line, outcome) for line, outcome, _detail in outcomes] == [
        (2, "invalid"),
        (3, "invalid"),
    ]
    assert not Contact.objects.exists()


@pytest.mark.usefixtures("fresh_rate_limits")
@pytest.mark.parametrize("email", ["root@[127.0.0.1]", "root@localhost"])
def test_the_subscribe_form_refuses_host_addresses(client, topic, email):
    data = {"email": email, "topics": [topic.pk], "consent": "on"}
    response = client.post(reverse("subscribe"), data)
    assert response.status_code == 400
    assert b"errorlist" in response.content
    assert not Contact.objects.exists()


# --- the API never re-creates an erased address, except by double opt-in -------------------------


def test_the_api_brings_an_erased_address_back_only_by_double_opt_in(
    api, topic, send_queued_transactional
):
    _erased(topic)
    assert_error(
        api.post(f"{V1}/contacts/", {"email": PLAIN}), 409, "erased_requires_double_opt_in"
    )
    assert not Contact.objects.active().exists()

    body = {"email": PLAIN, "double_opt_in": True, "topics": [topic.slug]}
    response = api.post(f"{V1}/contacts/", body)
    assert response.status_code == 201
    assert [(s["topic"], s["status"]) for s in response.json()["subscriptions"]] == [
        (topic.slug, "pending")
    ]
    (message,) = send_queued_transactional()
    assert message.to == [PLAIN] and "/confirm/" in message.body
    assert not Contact.objects.marketable(topic).exists()


def test_the_api_asks_for_topics_with_a_double_opt_in(api, topic):
    response = api.post(f"{V1}/contacts/", {"email": PLAIN, "double_opt_in": True})
    assert_error(response, 400, "invalid")
    body = {"email": PLAIN, "double_opt_in": True, "topics": ["nope"]}
    assert_error(api.post(f"{V1}/contacts/", body), 400, "unknown_topic")
    assert not Contact.objects.exists()


# --- re-keying and merging existing contacts (the data migration) ---------------------------------


def version_1_contact(email: str, **fields) -> Contact:
    """A contact as the code before issue 9 stored it."""
    key = email.lower()
    return ContactFactory(email=email, email_key=key, address_hash=key_hash(key), **fields)


def test_the_merge_lets_the_opt_out_win_and_never_repoints_the_ledger(topic, other_topic):
    by = Actor(source="preference_page")
    ann = version_1_contact(PLAIN, attributes={"first_name": "Ann"})
    alias = version_1_contact(QUOTED, external_id="crm-7", attributes={"plan": "pro"})
    SubscriptionFactory(contact=ann, topic=topic)
    SubscriptionFactory(contact=alias, topic=topic)
    SubscriptionFactory(contact=alias, topic=other_topic, frequency="weekly")
    subscription_unsubscribe(contact=alias, topic=topic, by=by)  # the opt-out came via the alias
    suppression_add(hashed=alias.address_hash, reason="complaint", hash_version=1, by=STAFF)
    alias_rows = list(ConsentEvent.objects.filter(contact=alias).values_list("pk", flat=True))
    campaign = CampaignFactory(topic=other_topic, status=CampaignStatus.SENDING)
    Delivery.objects.create(campaign=campaign, contact=alias, status="sent")
    pending = Delivery.objects.create(campaign=campaign, contact=ann, status="pending")
    old_link = unsubscribe_token(alias, other_topic)

    report = contacts_rekey()

    assert report.merged == [(alias.pk, ann.pk)]
    ann.refresh_from_db()
    alias.refresh_from_db()
    assert (alias.merged_into_id, alias.email_key) == (ann.pk, None)
    assert Subscription.objects.get(contact=ann, topic=topic).status == "unsubscribed"
    other = Subscription.objects.get(contact=ann, topic=other_topic)
    assert (other.status, other.frequency) == ("subscribed", "weekly")
    assert (ann.external_id, ann.attributes) == ("crm-7", {"first_name": "Ann", "plan": "pro"})
    # The old rows stay where they were; each side gets a merge row.
    assert set(alias_rows) <= set(
        ConsentEvent.objects.filter(contact=alias).values_list("pk", flat=True)
    )
    assert ConsentEvent.objects.filter(contact=alias, action="merged").count() == 1
    merged = ConsentEvent.objects.filter(contact=ann, action="merged", source="address_merge")
    assert sorted((e.topic_id, e.old_status, e.new_status) for e in merged if e.topic_id) == sorted(
        [(topic.pk, "subscribed", "unsubscribed"), (other_topic.pk, "", "subscribed")]
    )
    # The complaint made under the alias still blocks the mailbox, everywhere.
    assert not Contact.objects.marketable(other_topic).exists()
    assert suppression_check(email=PLAIN).reasons == ["complaint"]
    assert Suppression.objects.get(reason="complaint").hash_version == 1
    # The mailbox already got this campaign through the alias; never twice.
    pending.refresh_from_db()
    assert (pending.status, pending.reason) == ("skipped", "merged")
    # A link mailed to the alias acts on the merged contact.
    assert read_unsubscribe_token(old_link) == (ann, other_topic)
    assert contacts_rekey().merged == []  # idempotent


def test_a_complaint_about_mail_to_a_merged_spelling_unsubscribes_the_mailbox(api, topic):
    # Mailed through the alias before the upgrade; the complaint arrives after the merge.
    ann = version_1_contact(PLAIN)
    alias = version_1_contact(QUOTED)
    SubscriptionFactory(contact=ann, topic=topic)
    SubscriptionFactory(contact=alias, topic=topic)
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENDING)
    Delivery.objects.create(campaign=campaign, contact=alias, status="sent", esp_message_id="m-1")
    assert contacts_rekey().merged == [(alias.pk, ann.pk)]

    feedback_record(
        feedback=Feedback(
            esp="Postmark",
            kind=FeedbackKind.COMPLAINT,
            recipient=QUOTED,
            message_id="m-1",
            event_id="c1",
        )
    )

    # What an integrator sees: the person's only contact is unsubscribed, its ledger says why.
    answer = api.get(f"{V1}/contacts/{ann.pk}/").json()
    assert [(s["topic"], s["status"]) for s in answer["subscriptions"]] == [
        (topic.slug, "unsubscribed")
    ]
    actions = set(ConsentEvent.objects.filter(contact=ann).values_list("action", flat=True))
    assert {"unsubscribed", "unsubscribed_all", "suppressed"} <= actions


def test_the_export_includes_what_was_held_under_a_merged_spelling(api, topic):
    # The person opted out through the alias before the upgrade merged it: that is their data.
    ann = version_1_contact(PLAIN)
    alias = version_1_contact(QUOTED)
    SubscriptionFactory(contact=alias, topic=topic)
    by = Actor(source="preference_page", ip_address="203.0.113.9", user_agent="AliasBrowser/1")
    subscription_unsubscribe(contact=alias, topic=topic, by=by)
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENDING)
    Delivery.objects.create(campaign=campaign, contact=alias, status="sent")
    TransactionalMessage.objects.create(to_email=QUOTED, subject="Welcome", text_body="x")
    contacts_rekey()

    response = api.post(f"{V1}/contacts/{ann.pk}/export/")

    assert response.status_code == 200, response.content
    data = response.json()
    assert ("unsubscribed", "AliasBrowser/1") in {
        (e["action"], e["user_agent"]) for e in data["consent_events"]
    }
    assert [d["campaign"] for d in data["deliveries"]] == [campaign.name]
    assert [m["subject"] for m in data["transactional_messages"]] == ["Welcome"]


def test_retention_also_erases_the_unconfirmed_spellings_merged_into_a_contact(topic):
    ann = version_1_contact(PLAIN)
    alias = version_1_contact(QUOTED, attributes={"first_name": "Ann"})
    SubscriptionFactory(contact=ann, topic=topic, status="pending")
    SubscriptionFactory(contact=alias, topic=topic, status="pending")
    contacts_rekey()
    later = timezone.now() + datetime.timedelta(days=settings.RETENTION_PENDING_DAYS + 1)

    assert retention_erase_unconfirmed(now=later) == 1

    alias.refresh_from_db()
    assert (alias.email, alias.attributes, alias.erased_at is not None) == ("", {}, True)
    assert not Contact.objects.filter(email__icontains="ann").exists()


def test_the_api_id_of_a_merged_spelling_still_reaches_the_person(api, topic):
    # A CRM stored the alias's id before the upgrade and now syncs an unsubscribe with it.
    ann = version_1_contact(PLAIN)
    alias = version_1_contact(QUOTED)
    SubscriptionFactory(contact=ann, topic=topic)
    contacts_rekey()

    response = api.put(
        f"{V1}/contacts/{alias.pk}/subscriptions/{topic.slug}/", {"status": "unsubscribed"}
    )

    assert response.status_code == 200, response.content
    assert Subscription.objects.get(contact=ann, topic=topic).status == "unsubscribed"
    assert api.get(f"{V1}/contacts/{alias.pk}/").json()["id"] == ann.pk


def test_the_rekey_moves_a_lone_alias_and_suppresses_host_addresses(topic):
    alias = version_1_contact('"Bo"@Example.com')
    local = version_1_contact("root@localhost")
    SubscriptionFactory(contact=alias, topic=topic)
    SubscriptionFactory(contact=local, topic=topic)
    old_hash = alias.address_hash
    suppression_add(hashed=old_hash, reason="unsubscribed_all", hash_version=1, by=STAFF)

    report = contacts_rekey()

    assert report.rekeyed == [alias.pk] and report.refused == [local.pk]
    alias.refresh_from_db()
    assert (alias.email, alias.email_key) == ("Bo@example.com", "bo@example.com")
    assert alias.address_hash == address_hash("bo@example.com")
    assert suppression_check(email="bo@example.com").reasons == ["unsubscribed_all"]
    assert suppression_check(contact=local).reasons == ["invalid"]
    assert not Contact.objects.marketable(topic).exists()


# --- locales -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "locale"), [("da", "da"), ("da-DK", "da"), ("EN_gb", "en")])
def test_it_stores_a_supported_language(raw, locale):
    assert normalize_locale(raw) == locale


@pytest.mark.parametrize("raw", ["../../x", "xx", "da/../../etc", "", "d"])
def test_it_refuses_other_locales(raw):
    with pytest.raises(InvalidLocale):
        normalize_locale(raw)


def test_no_road_stores_a_path_as_a_locale(api, topic):
    response = api.post(f"{V1}/contacts/", {"email": PLAIN, "locale": "../../x"})
    assert_error(response, 400, "invalid_locale")
    with pytest.raises(InvalidLocale):
        contact_get_or_create(email=PLAIN, locale="../../x")
    outcomes = import_outcomes(
        topic, b"email,locale\nann@example.com,../../x\nbo@example.com,da-DK\n"
    )
    assert (outcomes[0][0], outcomes[0][1]) == (2, "invalid")
    assert "locale" in outcomes[0][2]
    assert list(Contact.objects.values_list("email", "locale")) == [("bo@example.com", "da")]
    contact = Contact.objects.get()
    contact.locale = "../../x"
    with pytest.raises(ValidationError):  # the admin's form runs the field's validators
        contact.full_clean()
    assert api.post(f"{V1}/contacts/", {"email": PLAIN, "locale": "da-DK"}).json()["locale"] == "da"


def test_stored_bad_locales_are_cleaned(db):
    bad = ContactFactory(locale="../../x")
    region = ContactFactory(locale="da-DK")
    assert contact_locales_clean() == 2
    bad.refresh_from_db()
    region.refresh_from_db()
    assert (bad.locale, region.locale) == ("en", "da")


def test_an_unknown_field_combination_changes_nothing(api, topic):
    body = {"email": PLAIN, "topics": [topic.slug]}  # topics without double_opt_in
    assert_error(api.post(f"{V1}/contacts/", body), 400, "invalid")
    assert not Contact.objects.exists()
    assert json.loads(api.post(f"{V1}/contacts/", {"email": PLAIN}).content)["email"] == PLAIN


def test_erasure_also_scrubs_the_spellings_merged_into_the_contact(topic):
    ann = version_1_contact(PLAIN)
    alias = version_1_contact(QUOTED, attributes={"first_name": "Ann"})
    SubscriptionFactory(contact=alias, topic=topic)
    contacts_rekey()
    ann.refresh_from_db()
    assert ann.alias_hashes.exists()

    contact_erase(contact=ann, by=Actor(source="api"))

    alias.refresh_from_db()
    assert (alias.email, alias.attributes, alias.erased_at is not None) == ("", {}, True)
    assert not ContactAddressHash.objects.exists()
    assert not Contact.objects.filter(email__icontains="ann").exists()


def test_a_bounce_for_another_spelling_suppresses_the_one_mailbox(topic):
    contact = ContactFactory(email=PLAIN)
    SubscriptionFactory(contact=contact, topic=topic)
    for recipient, event in ((QUOTED, "e1"), ("ann@EXAMPLE.com", "e2")):
        feedback_record(
            feedback=Feedback(
                esp="Postmark", kind=FeedbackKind.HARD_BOUNCE, recipient=recipient, event_id=event
            )
        )
    assert list(Suppression.objects.values_list("address_hash", "reason")) == [
        (address_hash(PLAIN), "hard_bounce")
    ]
    assert ConsentEvent.objects.filter(contact=contact, action="suppressed").count() == 1
    assert not Contact.objects.marketable(topic).exists()


def test_the_data_migration_merges_through_the_historical_models(topic):
    historical = (
        MigrationExecutor(connection)
        .loader.project_state(("subscriptions", "0010_canonical_addresses"))
        .apps
    )
    ann = version_1_contact(PLAIN)
    alias = version_1_contact(QUOTED)
    SubscriptionFactory(contact=ann, topic=topic)
    SubscriptionFactory(contact=alias, topic=topic, status="unsubscribed")
    contact_locale = ContactFactory(locale="da_DK")

    report = contacts_rekey(apps=historical)
    contact_locales_clean(apps=historical)

    assert report.merged == [(alias.pk, ann.pk)]
    assert Subscription.objects.get(contact=ann, topic=topic).status == "unsubscribed"
    assert Contact.objects.get(pk=alias.pk).merged_into_id == ann.pk
    rows = ConsentEvent.objects.filter(action="merged").values_list("contact_id", "source")
    assert sorted(rows) == sorted(
        [(ann.pk, "address_merge"), (ann.pk, "address_merge"), (alias.pk, "address_merge")]
    )
    assert Contact.objects.get(pk=contact_locale.pk).locale == "da"
