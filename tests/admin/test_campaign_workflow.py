"""The campaign page is the workflow: steps and buttons, review, confirm, schedule with a time
zone, read-only once started, test lists, duplicate, the live figures and the failures CSV."""

from __future__ import annotations

import datetime
import zoneinfo

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from subscriptions.campaigns.lifecycle import due_campaigns
from subscriptions.models import Campaign, Delivery, TestList
from subscriptions.models.choices import CampaignStatus, DeliveryStatus
from tests.sending_factories import CampaignFactory, subscribers


def url(name: str, campaign) -> str:
    return reverse(f"admin:subscriptions_campaign_{name}", args=[campaign.pk])


def test_the_campaign_page_shows_the_steps_and_the_buttons_of_a_draft(admin_client, topic):
    campaign = CampaignFactory(topic=topic)

    page = admin_client.get(url("change", campaign)).text

    for step in ("Edit", "Preview", "Send test", "Review", "Send / schedule", "Progress", "Report"):
        assert f">{step}</a>" in page
    for button in ("Review &amp; send", "Send test", "Duplicate", "Cancel campaign"):
        assert button in page
    assert "Pause" not in page


def test_review_counts_the_audience_now_and_says_who_is_left_out_and_why(
    admin_client, topic, audience
):
    campaign = CampaignFactory(topic=topic)

    page = admin_client.get(url("review", campaign)).text

    # ann, bob; the minor, the suppressed, the paused and the unsubscribed are named by reason.
    assert "2 contacts would get this campaign now." in page
    assert "On the suppression list" in page
    assert "Under the minimum age" in page
    assert "Paused" in page
    assert "Unsubscribed" in page


def test_send_now_asks_for_confirmation_naming_the_count_then_starts(admin_client, topic):
    subscribers(topic, 3)
    campaign = CampaignFactory(topic=topic)

    confirm = admin_client.get(url("send", campaign))
    assert "Send to 3 contacts" in confirm.text
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT  # a GET sends nothing

    response = admin_client.post(url("send", campaign))

    assert response.status_code == 302
    assert response.url == url("progress", campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING


def test_send_now_of_a_campaign_already_sending_starts_nothing_again(admin_client, topic):
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENDING)

    response = admin_client.post(url("send", campaign), follow=True)

    assert "This campaign has already started." in response.text
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING


def test_schedule_takes_a_date_and_time_in_the_chosen_zone(admin_client, topic):
    campaign = CampaignFactory(topic=topic)
    zone = zoneinfo.ZoneInfo("America/New_York")
    local = (
        (timezone.now() + datetime.timedelta(days=2))
        .astimezone(zone)
        .replace(second=0, microsecond=0)
    )

    response = admin_client.post(
        url("review", campaign),
        {
            "date": f"{local:%Y-%m-%d}",
            "time": f"{local:%H:%M}",
            "time_zone": "America/New_York",
        },
    )

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.status, campaign.scheduled_at) == (CampaignStatus.SCHEDULED, local)
    assert list(due_campaigns(local)) == [campaign]
    page = admin_client.get(url("change", campaign)).text
    assert f"Scheduled for {local:%Y-%m-%d %H:%M} America/New_York" in page
    assert "Unschedule" in page


def test_a_past_schedule_is_refused_at_the_field_and_changes_nothing(admin_client, topic):
    campaign = CampaignFactory(topic=topic)

    response = admin_client.post(
        url("review", campaign), {"date": "2020-01-01", "time": "10:00", "time_zone": "UTC"}
    )

    assert response.status_code == 200
    assert "This time has already passed in UTC." in response.text
    campaign.refresh_from_db()
    assert (campaign.status, campaign.scheduled_at) == (CampaignStatus.DRAFT, None)


def test_unschedule_is_a_button_that_takes_it_back_to_draft(admin_client, topic):
    campaign = CampaignFactory(
        topic=topic,
        status=CampaignStatus.SCHEDULED,
        scheduled_at=timezone.now() + datetime.timedelta(hours=1),
    )

    admin_client.post(url("unschedule", campaign))

    campaign.refresh_from_db()
    assert (campaign.status, campaign.scheduled_at) == (CampaignStatus.DRAFT, None)


def test_a_started_campaign_is_read_only(admin_client, topic):
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENDING)

    page = admin_client.get(url("change", campaign))

    assert page.status_code == 200
    assert "its content is read-only" in page.text
    assert 'name="subject"' not in page.text  # shown, not an input
    assert "News for {{ contact.attributes.first_name" in page.text
    assert 'name="_save"' not in page.text
    for button in ("Pause", "Cancel campaign", "Duplicate", "Progress"):
        assert button in page.text


def test_pause_resume_and_cancel_are_buttons_on_the_page(admin_client, topic):
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENDING)

    admin_client.post(url("pause", campaign))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    admin_client.post(url("resume", campaign))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    admin_client.post(url("cancel", campaign))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED

    refused = admin_client.post(url("resume", campaign), follow=True)
    assert "cannot become sending" in refused.text


def test_a_get_never_changes_a_campaign(admin_client, topic):
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENDING)

    for action in ("pause", "cancel", "duplicate"):
        assert admin_client.get(url(action, campaign)).status_code == 405

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    assert Campaign.objects.count() == 1


def test_duplicate_copies_the_content_into_a_new_draft(admin_client, topic, admin_user):
    campaign = CampaignFactory(
        topic=topic, status=CampaignStatus.SENT, from_email="news@example.com"
    )

    response = admin_client.post(url("duplicate", campaign))

    copy = Campaign.objects.exclude(pk=campaign.pk).get()
    assert response.url == url("change", copy)
    assert copy.name == f"Copy of {campaign.name}"
    assert (copy.subject, copy.html_body, copy.text_body, copy.from_email, copy.topic) == (
        campaign.subject,
        campaign.html_body,
        campaign.text_body,
        campaign.from_email,
        topic,
    )
    assert (copy.status, copy.started_at, copy.created_by) == ("draft", None, admin_user)


def test_preview_as_an_unknown_address_is_an_error_at_the_field(admin_client, topic):
    campaign = CampaignFactory(topic=topic)

    page = admin_client.get(url("preview", campaign), {"contact": "nobody@example.com"}).text

    assert "No contact has the address nobody@example.com." in page
    assert "srcdoc" not in page  # never a silent stand-in


def test_preview_shows_desktop_and_phone_widths_in_the_contacts_language(
    admin_client, topic, subscribed_alice
):
    subscribed_alice.locale = "da"
    subscribed_alice.save()
    campaign = CampaignFactory(topic=topic)

    page = admin_client.get(url("preview", campaign), {"contact": "alice@example.com"}).text

    assert 'id="preview-desktop"' in page
    assert 'id="preview-phone"' in page
    assert "in their language (da)" in page


def test_a_test_goes_to_a_saved_list_plus_typed_addresses(admin_client, topic, outbox):
    campaign = CampaignFactory(topic=topic)
    qa = TestList.objects.create(name="QA", addresses=["qa@example.com", "lead@example.com"])

    response = admin_client.post(
        url("preview", campaign), {"test_list": qa.pk, "addresses": "boss@example.com"}
    )

    assert response.status_code == 302
    assert sorted(m.to[0] for m in outbox) == [
        "boss@example.com",
        "lead@example.com",
        "qa@example.com",
    ]
    assert all(m.subject.startswith("[Test] ") for m in outbox)


def test_more_than_twenty_test_addresses_are_refused_and_nothing_is_sent(
    admin_client, topic, outbox
):
    campaign = CampaignFactory(topic=topic)
    typed = "\n".join(f"qa{i}@example.com" for i in range(21))

    response = admin_client.post(url("preview", campaign), {"addresses": typed})

    assert response.status_code == 200
    assert "Give between 1 and 20 addresses." in response.text
    assert outbox == []


def test_test_lists_are_managed_in_the_console_with_a_clear_error(admin_client):
    add = reverse("admin:subscriptions_testlist_add")

    bad = admin_client.post(add, {"name": "QA", "addresses": "qa@example.com\nnot-an-address"})
    assert "not-an-address is not an email address." in bad.text
    assert not TestList.objects.exists()

    admin_client.post(add, {"name": "QA", "addresses": "QA@Example.com\nboss@example.com"})
    assert TestList.objects.get().addresses == ["QA@example.com", "boss@example.com"]


def test_the_live_figures_are_json_with_rate_and_a_per_minute_series(admin_client, topic):
    campaign = CampaignFactory(
        topic=topic, status=CampaignStatus.SENDING, started_at=timezone.now()
    )
    contacts = subscribers(topic, 4)
    now = timezone.now()
    for contact in contacts[:3]:
        Delivery.objects.create(
            campaign=campaign, contact=contact, status=DeliveryStatus.SENT, sent_at=now
        )
    Delivery.objects.create(campaign=campaign, contact=contacts[3])

    data = admin_client.get(url("progress_json", campaign)).json()

    assert data["stats"]["sent"] == 3
    assert data["done_percent"] == 75.0
    assert data["rate_per_minute"] == 1.5  # 3 over the last 2 minutes
    assert data["seconds_left"] == 40
    assert data["per_minute"][-1]["sent"] == 3
    assert data["live"] is True


def test_the_failures_csv_says_who_and_why_and_runs_no_formula(admin_client, topic):
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENT)
    contact = subscribers(topic, 1)[0]
    Delivery.objects.create(
        campaign=campaign,
        contact=contact,
        status=DeliveryStatus.FAILED,
        reason="error",
        error="=HYPERLINK(1) 550 mailbox full",
    )

    response = admin_client.get(url("failures", campaign))

    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0] == "email,status,reason,error,claimed_at"
    assert f"{contact.email},failed,error,'=HYPERLINK(1) 550 mailbox full," in body


def test_staff_who_may_only_view_campaigns_can_start_pause_or_copy_none(db, topic):
    """The attack: a view-only staff user posts straight to the workflow's action URLs."""
    user = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    viewer = Client()
    viewer.force_login(user)
    draft = CampaignFactory(topic=topic)
    sending = CampaignFactory(topic=topic, status=CampaignStatus.SENDING)
    at = timezone.now() + datetime.timedelta(days=1)

    assert viewer.post(url("send", draft)).status_code == 403
    assert (
        viewer.post(
            url("review", draft), {"date": f"{at:%Y-%m-%d}", "time": "10:00", "time_zone": "UTC"}
        ).status_code
        == 403
    )
    assert viewer.post(url("pause", sending)).status_code == 403
    assert viewer.post(url("cancel", sending)).status_code == 403
    assert viewer.post(url("duplicate", draft)).status_code == 403

    assert viewer.get(url("review", draft)).status_code == 200  # reading is theirs
    assert list(Campaign.objects.order_by("pk").values_list("status", flat=True)) == [
        "draft",
        "sending",
    ]
