from __future__ import annotations

from unittest import mock

import pytest

from subscriptions.campaigns import messages
from subscriptions.campaigns.messages import (
    InvalidCampaignTemplate,
    build_marketing_message,
    compile_campaign,
    marketing_connection,
    render_marketing_message,
)
from subscriptions.consent.tokens import preferences_url, read_unsubscribe_token, unsubscribe_url
from subscriptions.mail.messages import build_transactional_message
from tests.sending_factories import CampaignFactory


def html_of(message) -> str:
    return next(content for content, mimetype in message.alternatives if mimetype == "text/html")


def test_it_adds_the_one_click_unsubscribe_headers(topic, alice, settings):
    settings.LIST_UNSUBSCRIBE_MAILTO = "unsubscribe@example.com"
    settings.LIST_ID_DOMAIN = "lists.example.com"
    campaign = CampaignFactory(topic=topic)

    # Tokens carry their signing second: one clock for the message and the expected link.
    with mock.patch("django.core.signing.time.time", return_value=1_800_000_000):
        message = build_marketing_message(campaign=campaign, contact=alice)
        expected = unsubscribe_url(alice, topic, campaign_id=campaign.pk)

    headers = message.extra_headers
    assert headers["List-Unsubscribe"] == f"<{expected}>, <mailto:unsubscribe@example.com>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Id"] == "<product-news.lists.example.com>"
    token = headers["List-Unsubscribe"].split("/unsubscribe/")[1].split("/")[0]
    assert read_unsubscribe_token(token) == (alice, topic)
    assert "alice" not in token


def test_it_appends_the_footer_when_the_body_has_no_links(topic, alice, settings):
    campaign = CampaignFactory(topic=topic, html_body="<p>Hi</p>", text_body="Hi")

    message = build_marketing_message(campaign=campaign, contact=alice)

    for body in (message.body, html_of(message)):
        assert unsubscribe_url(alice, topic).split("/unsubscribe/")[0] + "/unsubscribe/" in body
        assert "/preferences/" in body
        assert settings.POSTAL_ADDRESS in body


def test_it_does_not_repeat_links_the_body_places_itself(topic, alice, settings):
    campaign = CampaignFactory(
        topic=topic,
        html_body='<p><a href="{{ unsubscribe_url }}">out</a> <a href="{{ preferences_url }}">p</a></p>',
        text_body="Leave: {{ unsubscribe_url }} Prefs: {{ preferences_url }}",
    )

    message = build_marketing_message(campaign=campaign, contact=alice)

    assert message.body.count("/unsubscribe/") == 1
    assert message.body.count("/preferences/") == 1
    assert html_of(message).count("/unsubscribe/") == 1
    assert settings.POSTAL_ADDRESS in message.body
    assert settings.POSTAL_ADDRESS in html_of(message)


def test_it_merges_contact_attributes_with_defaults(topic, alice, other_topic):
    campaign = CampaignFactory(topic=topic)
    alice.attributes = {"first_name": "Alice <b>"}

    named = build_marketing_message(campaign=campaign, contact=alice)

    assert named.subject == "News for Alice <b>"
    assert "Hello Alice <b>" in named.body
    assert "Hello Alice &lt;b&gt;" in html_of(named)
    alice.attributes = {}
    assert "Hello there" in build_marketing_message(campaign=campaign, contact=alice).body


def test_it_generates_plain_text_from_html_and_inlines_css(topic, alice):
    campaign = CampaignFactory(
        topic=topic,
        text_body="",
        html_body="<html><head><style>p { color: red }</style></head>"
        "<body><p>Big <strong>news</strong></p></body></html>",
    )

    message = build_marketing_message(campaign=campaign, contact=alice)

    assert "Big **news**" in message.body
    assert "/unsubscribe/" in message.body
    assert 'style="color: red' in html_of(message)
    assert html_of(message).index("prefcenter-footer") < html_of(message).index("</body>")


def test_it_tags_the_message_with_campaign_and_delivery(topic, alice, outbox):
    campaign = CampaignFactory(topic=topic)

    message = build_marketing_message(
        campaign=campaign, contact=alice, delivery_id=42, connection=marketing_connection()
    )
    message.send()

    params = outbox[0].anymail_test_params
    assert params["metadata"] == {
        "stream": "marketing",
        "campaign_id": str(campaign.pk),
        "delivery_id": "42",
    }
    assert params["tags"] == [f"campaign-{campaign.pk}"]  # Postmark takes one tag


def test_it_sends_a_test_to_another_address_with_the_contact_s_links(topic, alice):
    campaign = CampaignFactory(topic=topic)

    message = build_marketing_message(campaign=campaign, contact=alice, to="qa@example.com")

    assert message.to == ["qa@example.com"]
    assert preferences_url(alice).split("/preferences/")[0] in message.body


@pytest.mark.parametrize("field", ["subject", "text_body", "html_body"])
def test_it_names_the_broken_template(topic, field):
    campaign = CampaignFactory(topic=topic, **{field: "{% if %}"})

    with pytest.raises(InvalidCampaignTemplate):
        compile_campaign(campaign)


def test_it_requires_a_body(topic):
    with pytest.raises(InvalidCampaignTemplate, match="body"):
        compile_campaign(CampaignFactory(topic=topic, html_body="", text_body=""))


def test_it_never_puts_marketing_headers_on_transactional_mail():
    message = build_transactional_message(to="bob@example.com", subject="Receipt", text="Thanks")

    assert not {"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"} & set(message.extra_headers)
    assert "marketing" not in message.tags


def test_it_turns_a_message_into_the_same_bytes_as_django_does(topic, alice):
    import re
    from email.policy import compat32

    from django.core.mail import EmailMultiAlternatives

    from subscriptions.campaigns.mime_folding import _RepeatedHeaderFolding

    rendered = render_marketing_message(
        campaign=CampaignFactory(topic=topic, subject="Ünïcode " * 12), contact=alice
    )
    for _ in range(2):  # the second time from the cache
        ours = rendered.as_email().message()
        plain = EmailMultiAlternatives(
            rendered.subject,
            rendered.text,
            rendered.from_email,
            [rendered.to],
            headers=rendered.headers,
        )
        plain.attach_alternative(rendered.html, "text/html")

        def normalized(message) -> bytes:
            raw = message.as_bytes(linesep="\r\n")
            raw = re.sub(rb"=+\d+==", b"BOUNDARY", raw)  # random MIME boundaries
            return re.sub(rb"Date: [^\r]+", b"Date: -", raw)

        assert normalized(ours) == normalized(plain.message())
    folding = _RepeatedHeaderFolding()
    for name, value in [("Subject", "Ünïcode " * 30), ("List-Unsubscribe", "<" + "x" * 300 + ">")]:
        assert folding.fold_binary(name, value) == compat32.fold_binary(name, value)
        assert folding.fold_binary(name, value) == compat32.fold_binary(name, value)


def test_it_writes_the_footer_in_the_contact_s_language(topic, alice):
    campaign = CampaignFactory(topic=topic, html_body="<p>Hej</p>", text_body="Hej")

    alice.locale = "da"
    danish = build_marketing_message(campaign=campaign, contact=alice)
    alice.locale = "en"
    english = build_marketing_message(campaign=campaign, contact=alice)

    for body in (danish.body, html_of(danish)):
        assert f"Afmeld {topic.name}" in body
        assert "Administrer dine præferencer" in body
        assert "Unsubscribe from" not in body
        assert "Manage your preferences" not in body
    for body in (english.body, html_of(english)):
        assert f"Unsubscribe from {topic.name}" in body
        assert "Manage your preferences" in body
        assert "Administrer dine præferencer" not in body


def test_it_renders_the_footers_once_per_campaign_and_language(topic, alice):
    campaign = CampaignFactory(topic=topic)
    compiled = compile_campaign(campaign)

    with mock.patch.object(
        messages, "_render_footers", wraps=messages._render_footers
    ) as render_footers:
        for locale in ("da", "en", "da", "en", "da"):
            alice.locale = locale
            render_marketing_message(campaign=campaign, contact=alice, compiled=compiled)

    assert sorted(call.args[1] for call in render_footers.call_args_list) == ["da", "en"]


def test_it_names_the_topic_in_the_contact_s_language_in_the_footer(topic, alice):
    topic.name_da = "Produktnyheder"
    topic.save()
    campaign = CampaignFactory(topic=topic, html_body="<p>Hej</p>", text_body="Hej")
    compiled = compile_campaign(campaign)

    alice.locale = "da"
    danish = build_marketing_message(campaign=campaign, contact=alice, compiled=compiled)
    alice.locale = "en"
    english = build_marketing_message(campaign=campaign, contact=alice, compiled=compiled)

    for body in (danish.body, html_of(danish)):
        assert "Afmeld Produktnyheder" in body
        assert "Product news" not in body
    for body in (english.body, html_of(english)):
        assert "Unsubscribe from Product news" in body
        assert "Produktnyheder" not in body
