"""`manage.py seed_demo`: a small, realistic demo data set. Safe to run again.

Topics, and one contact in every subscription state, each brought there through the consent
services (so the ledger reads like real history, with realistic sources), a staff login
`demo`/`demo` (only when DEBUG or with --demo-user) and a draft campaign. A contact that already
exists is left as it is: running the command again creates and records nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from subscriptions.models import Campaign, Contact, Topic
from subscriptions.models.choices import (
    ImpliedBy,
    LegalBasis,
    Source,
    SuppressionReason,
)

from ...consent.confirmations import subscription_confirm, subscription_request
from ...consent.contacts import contact_get_or_create
from ...consent.ledger import Actor
from ...consent.subscriptions import (
    contact_unsubscribe_all,
    subscription_pause,
    subscription_set_frequency,
    subscription_subscribe,
    subscription_unsubscribe,
)
from ...consent.suppression import suppression_add
from ...consent.tokens import preferences_url

DEMO_USER = "demo"
# The contact whose preference page `make run` prints.
DEMO_PAGE_EMAIL = "ada@example.com"

TOPICS = [
    {
        "slug": "product-news",
        "name": "Product news",
        "description": "New features and improvements, a few times a month.",
        "frequencies": ["immediate", "monthly"],
        "position": 1,
    },
    {
        "slug": "weekly-digest",
        "name": "Weekly digest",
        "description": "The week's best articles, every Friday morning.",
        "frequencies": ["weekly", "monthly"],
        "position": 2,
    },
    {
        "slug": "events",
        "name": "Events and webinars",
        "description": "Invitations to meetups, conferences and online sessions near you.",
        "frequencies": ["immediate", "monthly"],
        "position": 3,
    },
]

SIGNUP_WORDING = "Yes, email me the topics I ticked. I can unsubscribe at any time."
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"


def _form(ip: str = "203.0.113.24") -> Actor:
    return Actor(
        source=Source.SUBSCRIBE_FORM, ip_address=ip, user_agent=BROWSER, wording=SIGNUP_WORDING
    )


def _confirmed(ip: str = "203.0.113.24") -> Actor:
    return Actor(
        source=Source.CONFIRMATION, ip_address=ip, user_agent=BROWSER, wording=SIGNUP_WORDING
    )


def _page(ip: str = "198.51.100.7") -> Actor:
    return Actor(source=Source.PREFERENCE_PAGE, ip_address=ip, user_agent=BROWSER)


def _signed_up(contact: Contact, topics: list[Topic]) -> None:
    """A double opt-in confirmed some time ago (its request email is not sent again here)."""
    subscription_confirm(contact=contact, topics=topics, by=_confirmed())


class Command(BaseCommand):
    help = "Create demo topics, contacts in every subscription state, a demo login and a campaign."

    def add_arguments(self, parser):
        parser.add_argument(
            "--demo-user",
            action="store_true",
            help=f"Create the {DEMO_USER}/{DEMO_USER} superuser even when DEBUG is off.",
        )

    def handle(self, *args, **options):
        topics = self._topics()
        news, digest, events = topics["product-news"], topics["weekly-digest"], topics["events"]
        user = self._demo_user(options["demo_user"] or settings.DEBUG)

        def subscribed(c: Contact) -> None:
            _signed_up(c, [news, digest])
            subscription_set_frequency(contact=c, topic=digest, frequency="monthly", by=_page())

        def pending(c: Contact) -> None:
            subscription_request(contact=c, topics=[news], by=_form("192.0.2.51"))

        def unsubscribed(c: Contact) -> None:
            _signed_up(c, [news, events])
            # The mail client's one-click button: a POST with no browser details.
            subscription_unsubscribe(
                contact=c, topic=news, by=Actor(source=Source.ONE_CLICK, user_agent="Mail/1.0")
            )

        def paused(c: Contact) -> None:
            _signed_up(c, [digest])
            until = timezone.now() + datetime.timedelta(days=30)
            subscription_pause(contact=c, until=until, by=_page())

        def soft_opt_in(c: Contact) -> None:
            subscription_subscribe(
                contact=c,
                topic=news,
                legal_basis=LegalBasis.SOFT_OPT_IN,
                implied_by=ImpliedBy.PURCHASE,
                by=Actor(source=Source.API, actor="api:shop", evidence="order #10482 (checkout)"),
            )

        def unsubscribed_all(c: Contact) -> None:
            _signed_up(c, [news, digest, events])
            contact_unsubscribe_all(contact=c, by=_page(), note="Too much email")

        def hard_bounced(c: Contact) -> None:
            _signed_up(c, [news])
            esp = Actor(
                source=Source.ESP_WEBHOOK, actor="postmark", evidence="HardBounce 550 5.1.1"
            )
            suppression_add(
                email=c.email,
                reason=SuppressionReason.HARD_BOUNCE,
                by=esp,
                contact=c,
                note="550 5.1.1 mailbox does not exist",
            )

        def danish(c: Contact) -> None:
            _signed_up(c, [news, events])

        def under_age(c: Contact) -> None:
            _signed_up(c, [events])

        def account_user(c: Contact) -> None:
            if user is not None and not Contact.objects.filter(user=user).exists():
                c.user = user
                c.save(update_fields=["user", "updated_at"])
            _signed_up(c, [digest])

        today = timezone.localdate()
        people: list[tuple[str, str, Callable[[Contact], None]]] = [
            (DEMO_PAGE_EMAIL, "subscribed (2 topics)", subscribed),
            ("ben@example.com", "pending confirmation", pending),
            ("chloe@example.com", "unsubscribed from one topic", unsubscribed),
            ("dev@example.com", "paused for 30 days", paused),
            ("emil@example.com", "soft opt-in (customer)", soft_opt_in),
            ("fay@example.com", "unsubscribed from all (suppressed)", unsubscribed_all),
            ("gus@example.com", "hard bounce (suppressed for all mail)", hard_bounced),
            ("freja@example.dk", "subscribed, Danish locale", danish),
            ("hugo@example.com", "subscribed but under the minimum age", under_age),
            ("demo@example.com", f"subscribed, linked to user {DEMO_USER}", account_user),
        ]
        for email, state, bring_about in people:
            with transaction.atomic():
                locale = "da" if email.endswith(".dk") else "en"
                contact, created = contact_get_or_create(
                    email=email, locale=locale, attributes=None
                )
                if not created:
                    self.stdout.write(f"  contact {email}: exists, left as it is")
                    continue
                contact.attributes = {"first_name": email.split("@")[0].title()}
                contact.country = "DK" if locale == "da" else "GB"
                if bring_about is under_age:
                    contact.birth_date = today.replace(year=today.year - 14, day=1)
                contact.save(update_fields=["attributes", "country", "birth_date", "updated_at"])
                bring_about(contact)
                self.stdout.write(f"  contact {email}: {state}")

        self._campaign(news, user)
        ada = Contact.objects.active().filter(email_key=DEMO_PAGE_EMAIL).first()
        if ada is not None:
            self.stdout.write(f"  preference page of {ada.email}: {preferences_url(ada)}")
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

    def _topics(self) -> dict[str, Topic]:
        topics = {}
        for spec in TOPICS:
            topic, created = Topic.objects.get_or_create(
                slug=spec["slug"], defaults={k: v for k, v in spec.items() if k != "slug"}
            )
            self.stdout.write(f"  topic {topic.slug}: {'created' if created else 'exists'}")
            topics[topic.slug] = topic
        return topics

    def _demo_user(self, allowed: bool):
        if not allowed:
            self.stdout.write(f"  user {DEMO_USER}: not created (DEBUG is off; use --demo-user)")
            return None
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USER).first()
        if user is not None:
            self.stdout.write(f"  user {DEMO_USER}: exists")
            return user
        user = User.objects.create_superuser(DEMO_USER, "demo@example.com", DEMO_USER)
        self.stdout.write(f"  user {DEMO_USER}: created, password {DEMO_USER!r} (staff, superuser)")
        return user

    def _campaign(self, topic: Topic, user) -> None:
        name = "Product news — demo draft"
        _campaign, created = Campaign.objects.get_or_create(
            name=name,
            defaults={
                "topic": topic,
                "subject": "What's new this month",
                "html_body": (
                    '<h1>Hi {{ contact.attributes.first_name|default:"there" }},</h1>'
                    "<p>Here is what we shipped this month.</p>"
                ),
                "text_body": (
                    'Hi {{ contact.attributes.first_name|default:"there" }},\n\n'
                    "Here is what we shipped this month.\n"
                ),
                "created_by": user,
            },
        )
        self.stdout.write(f"  campaign {name!r}: {'created (draft)' if created else 'exists'}")
