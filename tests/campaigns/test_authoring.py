"""Authoring: body formats, the merge-field picker, checks at the field, per-language content and
layouts compiled once per language (subscriptions.campaigns.authoring, .messages, mail.layouts)."""

from __future__ import annotations

import importlib

import mrml
import pytest
from django.apps import apps
from django.urls import reverse

from subscriptions.campaigns.authoring import (
    attribute_names,
    content_errors,
    convert_body,
    markdown_to_html,
)
from subscriptions.campaigns.messages import compile_campaign, render_marketing_message
from subscriptions.mail import layouts
from subscriptions.models import Campaign, CampaignTranslation, EmailLayout
from tests.factories import ContactFactory
from tests.support.campaign_forms import campaign_post

pytestmark = pytest.mark.django_db


def _errors_at(response, field: str) -> list[str]:
    return list(response.context["adminform"].form.errors.get(field, []))


def test_it_shows_a_broken_subject_at_the_subject_field(admin_client, topic):
    response = admin_client.post(
        reverse("admin:subscriptions_campaign_add"),
        campaign_post(
            name="A", topic=topic.pk, subject="Hi {{ contact.email", html_body="<p>x</p>"
        ),
    )

    assert response.status_code == 200
    assert any("Unclosed tag" in error for error in _errors_at(response, "subject"))
    assert not Campaign.objects.exists()


def test_it_shows_an_unknown_merge_field_at_the_body(admin_client, topic):
    response = admin_client.post(
        reverse("admin:subscriptions_campaign_add"),
        campaign_post(
            name="A",
            topic=topic.pk,
            subject="Hi",
            html_body="<p>Dear {{ contact.first_name }}, see {{ topic.name }}</p>",
        ),
    )

    errors = _errors_at(response, "body_source")
    assert any("{{ contact.first_name }}" in error for error in errors)
    assert not any("topic.name" in error for error in errors)
    assert not Campaign.objects.exists()


@pytest.mark.parametrize("href", ["", "#", "javascript:alert(1)", " JavaScript:void(0)"])
def test_it_shows_a_link_that_goes_nowhere_at_the_body(admin_client, topic, href):
    response = admin_client.post(
        reverse("admin:subscriptions_campaign_add"),
        campaign_post(
            name="A", topic=topic.pk, subject="Hi", html_body=f'<p><a href="{href}">Buy</a></p>'
        ),
    )

    assert any("'Buy'" in error for error in _errors_at(response, "body_source"))
    assert not Campaign.objects.exists()


def test_it_accepts_the_fields_the_picker_offers(topic):
    ContactFactory(attributes={"first_name": "Ada", "plan": "pro"})
    body = (
        "<p>{{ contact.attributes.first_name|default:'there' }} {{ contact.email }} "
        "{{ contact.locale }} {{ topic.name }}"
        "{% for item in contact.attributes.plan %}{{ item }}{{ forloop.counter }}{% endfor %}"
        '<a href="{{ unsubscribe_url }}">stop</a> <a href="{{ preferences_url }}">prefs</a>'
        '<a href="https://example.com/">site</a></p>'
    )

    assert (
        content_errors(
            subject="Hi {{ contact.attributes.first_name }}", html_body=body, text_body=""
        )
        == {}
    )


def test_the_picker_lists_the_attributes_contacts_have(admin_client, topic):
    ContactFactory(attributes={"first_name": "Ada", "plan": "pro"})
    ContactFactory(attributes={"city": "Aarhus"})
    ContactFactory(attributes={})

    assert attribute_names() == ["city", "first_name", "plan"]
    page = admin_client.get(reverse("admin:subscriptions_campaign_add")).text
    for expression in (
        "{{ contact.email }}",
        "{{ contact.locale }}",
        "{{ contact.attributes.first_name }}",
        "{{ contact.attributes.city }}",
        "{{ topic.name }}",
        "{{ unsubscribe_url }}",
        "{{ preferences_url }}",
    ):
        assert f'data-merge-field="{expression}"' in page


def test_markdown_keeps_merge_fields_and_links_as_written():
    html = markdown_to_html(
        "# Hi {{ contact.attributes.first_name }}\n\n"
        '[Stop]({{ unsubscribe_url }}) {% if contact.locale == "da" %}Hej{% endif %}'
    )

    assert "<h1>Hi {{ contact.attributes.first_name }}</h1>" in html
    assert '<a href="{{ unsubscribe_url }}">Stop</a>' in html
    assert '{% if contact.locale == "da" %}' in html


def test_a_markdown_campaign_sends_the_html_made_from_it(admin_client, topic):
    campaign = Campaign.objects.create(
        name="News", topic=topic, subject="News", body_format="markdown", body_source="Hi"
    )

    response = admin_client.post(
        reverse("admin:subscriptions_campaign_change", args=[campaign.pk]),
        campaign_post(
            name="News",
            topic=topic.pk,
            subject="News",
            body_format="markdown",
            body_source="Hello **{{ contact.email }}**\n\n- one\n- two",
        ),
    )

    assert response.status_code == 302, _errors_at(response, "body_source")
    campaign.refresh_from_db()
    assert campaign.body_source == "Hello **{{ contact.email }}**\n\n- one\n- two"
    assert "<p>Hello <strong>{{ contact.email }}</strong></p>" in campaign.html_body
    assert "<li>one</li>" in campaign.html_body


def test_switching_a_campaign_to_markdown_converts_its_body(admin_client, topic):
    campaign = Campaign.objects.create(
        name="N",
        topic=topic,
        subject="S",
        body_format="html",
        html_body='<p>Hello <a href="https://example.com/">there</a></p>',
    )

    response = admin_client.post(
        reverse("admin:subscriptions_campaign_change", args=[campaign.pk]),
        campaign_post(
            name="N",
            topic=topic.pk,
            subject="S",
            body_format="markdown",
            body_source=campaign.html_body,
        ),
    )

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.body_source.strip() == "Hello [there](https://example.com/)"
    assert '<a href="https://example.com/">there</a>' in campaign.html_body


def test_converting_html_to_markdown_keeps_merge_field_links():
    source = '<p>Hi <a href="{{ preferences_url }}">settings</a></p>'

    assert "[settings]({{ preferences_url }})" in convert_body(
        source, from_format="html", to_format="markdown"
    )


# --- per-language content ------------------------------------------------------------------------


def _default_layout() -> EmailLayout:
    # The migration's row, unless a transactional test flushed the tables before this one.
    return EmailLayout.objects.default() or EmailLayout.objects.create(
        name="Default", is_default=True
    )


@pytest.fixture
def bilingual(topic):
    campaign = Campaign.objects.create(
        name="Spring",
        topic=topic,
        subject="Spring news for {{ contact.email }}",
        html_body="<p>Hello in English</p>",
        layout=_default_layout(),
    )
    CampaignTranslation.objects.create(
        campaign=campaign,
        language="da",
        subject="Forårsnyt til {{ contact.email }}",
        html_body="<p>Hej på dansk</p>",
    )
    return campaign


def test_each_contact_gets_the_content_of_their_language(bilingual):
    danish = ContactFactory(email="dane@example.com", locale="da")
    english = ContactFactory(email="brit@example.com", locale="en")
    unset = ContactFactory(email="someone@example.com", locale="")
    compiled = compile_campaign(bilingual)

    da = render_marketing_message(campaign=bilingual, contact=danish, compiled=compiled)
    en = render_marketing_message(campaign=bilingual, contact=english, compiled=compiled)
    default = render_marketing_message(campaign=bilingual, contact=unset, compiled=compiled)

    assert da.subject == "Forårsnyt til dane@example.com"
    assert "Hej på dansk" in da.html and "Hej på dansk" in da.text
    assert en.subject == "Spring news for brit@example.com"
    assert "Hello in English" in en.html
    assert "Hello in English" in default.html


def test_a_danish_contact_gets_danish_chrome_in_text_and_html(bilingual):
    danish = ContactFactory(email="dane@example.com", locale="da")

    message = render_marketing_message(campaign=bilingual, contact=danish)

    assert '<html lang="da"' in message.html
    for part in (message.html, message.text):
        assert "Du modtager denne e-mail, fordi du har tilmeldt dig" in part
        assert "Afmeld Product news" in part
        assert "Administrer dine præferencer" in part
        assert "You receive this email" not in part


def test_the_admin_saves_per_language_rows_checked_like_the_campaign(admin_client, topic):
    post = campaign_post(
        name="N",
        topic=topic.pk,
        subject="S",
        html_body="<p>Hi</p>",
        translations=[
            {"language": "da", "subject": "Hej {{ contact.fornavn }}", "body_source": "<p>Hej</p>"}
        ],
    )

    response = admin_client.post(reverse("admin:subscriptions_campaign_add"), post)

    assert response.status_code == 200
    assert "{{ contact.fornavn }}" in response.text
    assert not Campaign.objects.exists()

    post["translations-0-subject"] = "Hej {{ contact.email }}"
    response = admin_client.post(reverse("admin:subscriptions_campaign_add"), post)

    assert response.status_code == 302
    row = CampaignTranslation.objects.get()
    assert (row.language, row.html_body) == ("da", "<p>Hej</p>")


# --- layouts -------------------------------------------------------------------------------------


def test_the_layout_compiles_once_per_language_whatever_the_batches(bilingual, monkeypatch):
    layouts._compile.cache_clear()
    compiles = []
    to_html = mrml.to_html

    def counting(source, *args, **kwargs):
        compiles.append(source)
        return to_html(source, *args, **kwargs)

    monkeypatch.setattr(layouts.mrml, "to_html", counting)
    contacts = [ContactFactory(locale="da" if n % 2 else "en") for n in range(40)]

    for batch in (contacts[:20], contacts[20:]):  # each batch compiles the campaign anew
        compiled = compile_campaign(bilingual)
        for contact in batch:
            render_marketing_message(campaign=bilingual, contact=contact, compiled=compiled)

    assert len(compiles) == 2  # English and Danish, once each


def test_a_campaign_in_a_layout_keeps_its_body_footer_and_brand(bilingual, settings):
    settings.BRAND_COLOR = "#c2410c"
    layouts._compile.cache_clear()
    english = ContactFactory(locale="en")

    message = render_marketing_message(campaign=bilingual, contact=english)

    assert message.html.startswith("<!doctype html>")
    assert "#c2410c" in message.html
    assert message.html.index("Hello in English") < message.html.index("prefcenter-footer")
    assert "@media" in message.html  # the phone rules stay in the head
    assert settings.POSTAL_ADDRESS in message.html
    # no web font fetched from anyone (mrml would link Google Fonts for "Roboto")
    assert "fonts.googleapis.com" not in message.html and "<link" not in message.html


def test_the_layout_admin_refuses_mjml_that_does_not_place_the_body(admin_client):
    response = admin_client.post(
        reverse("admin:subscriptions_emaillayout_add"),
        {
            "name": "Broken",
            "background_color": "#ffffff",
            "text_color": "#000000",
            "mjml": "<mjml><mj-body><mj-section><mj-column><mj-text>{{ footer }}</mj-text>"
            "</mj-column></mj-section></mj-body></mjml>",
        },
    )

    assert response.status_code == 200
    assert "{{ body }}" in " ".join(response.context["adminform"].form.errors["mjml"])
    assert not EmailLayout.objects.filter(name="Broken").exists()


def test_the_migration_creates_a_default_layout():
    step = importlib.import_module("subscriptions.migrations.0022_authoring_layouts")
    EmailLayout.objects.all().delete()

    step.create_default_layout(apps, None)

    assert EmailLayout.objects.default().name == "Default"
