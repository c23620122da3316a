"""Previews and test sends of a campaign, with inert stand-in links (DESIGN rule 9).

A preview or a test message shows the campaign as a chosen contact would get it, but never
with that contact's working links: anyone who sees a preview (view permission) or receives a
test (any address the sender types) would otherwise hold a link that acts for the contact.
Both carry test links instead: a token kind of its own (own salt), served at the same
`/unsubscribe/<token>/` and `/preferences/<token>/` routes, whose pages say the message was a
test and whose POSTs answer 200 and change nothing (views/test_links.py).

Test sends refuse suppressed recipients, never touch Delivery, and are logged
(CampaignTestSend: who, which campaign, to whom, when).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from ..addresses import normalize_email
from ..consent.suppression import suppression_check
from ..consent.tokens import absolute, test_link_token, token_path
from ..models import Campaign, CampaignTestSend, Contact
from .lifecycle import campaign_validate
from .messages import (
    CampaignRenderError,
    MarketingMessage,
    MessageLinks,
    compile_campaign,
    marketing_connection,
    render_marketing_message,
)

MAX_TEST_RECIPIENTS = 20
SUBJECT_PREFIX = "[Test] "
STAND_IN_EMAIL = "preview@example.com"


class InvalidTestSend(ValueError):
    """The test send's recipients are missing, too many, or not addresses."""

    code = "invalid_recipients"


class MailUnavailable(Exception):
    """The mail transport could not take the test messages (SMTP down, ESP API failing).

    The attempt is already logged; nothing else changed, so the caller may simply retry.
    """

    code = "mail_unavailable"


# --- inert links ----------------------------------------------------------------------------------


def test_links() -> MessageLinks:
    """The stand-in unsubscribe and preference links of a preview or a test message."""
    return MessageLinks(
        unsubscribe_url=absolute(token_path("unsubscribe", test_link_token("unsubscribe"))),
        preferences_url=absolute(token_path("preferences", test_link_token("preferences"))),
    )


def stand_in_contact() -> Contact:
    """An unsaved contact with no data, for previews and tests that are not as anyone."""
    return Contact(email=STAND_IN_EMAIL, locale=settings.LANGUAGE_CODE, attributes={})


# --- preview --------------------------------------------------------------------------------------


def campaign_preview(*, campaign: Campaign, contact: Contact | None = None) -> MarketingMessage:
    """The campaign as `contact` (or a stand-in) would get it, with inert test links.

    Raises InvalidCampaignTemplate when it does not compile, CampaignRenderError when it
    compiles but breaks while rendering (a budget, a filter on this contact's data).
    """
    compiled = compile_campaign(campaign)
    return _render(campaign, compiled, contact or stand_in_contact(), to=None)


def _render(campaign, compiled, contact: Contact, *, to: str | None, prefix: str = ""):
    try:
        return render_marketing_message(
            campaign=campaign,
            contact=contact,
            compiled=compiled,
            to=to,
            links=test_links(),
            subject_prefix=prefix,
            metadata={"stream": "test", "campaign_id": str(campaign.pk)},
        )
    except Exception as exc:  # whatever a template raises is the marketer's to fix, not a 500
        raise CampaignRenderError(
            _("could not render: %(error)s") % {"error": f"{type(exc).__name__}: {exc}"}
        ) from exc


# --- test send ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestSendResult:
    sent: list[str]
    refused: list[str]  # suppressed addresses, not mailed
    log: CampaignTestSend


def campaign_test_send(
    *,
    campaign: Campaign,
    recipients: list[str],
    by: str,
    user: AbstractBaseUser | None = None,
    as_contact: Contact | None = None,
) -> TestSendResult:
    """Mail a test of `campaign` to at most MAX_TEST_RECIPIENTS addresses, and log it.

    Each message has the campaign's content rendered as `as_contact` (else a stand-in), a
    subject starting "[Test] ", and inert test links and List-Unsubscribe header. Suppressed
    addresses (any scope) are refused, not mailed. Nothing goes through Delivery. `by` names
    who asked ("admin:<username>", "api:<key name>"); `user` is the staff user, if any.

    Raises InvalidTestSend (no, too many or invalid recipients), InvalidCampaignTemplate,
    FromNotAllowed, CampaignRenderError, before anything is sent or logged; MailUnavailable when
    the transport fails (the attempt stays logged).
    """
    if not recipients or len(recipients) > MAX_TEST_RECIPIENTS:
        raise InvalidTestSend(f"Give between 1 and {MAX_TEST_RECIPIENTS} addresses.")
    addresses = []
    for raw in recipients:
        try:
            address = normalize_email(raw)
        except ValueError:
            raise InvalidTestSend(f"Not an email address: {str(raw)[:100]!r}") from None
        if address.lower() not in {a.lower() for a in addresses}:
            addresses.append(address)
    campaign_validate(campaign=campaign)
    compiled = compile_campaign(campaign)
    refused = [a for a in addresses if suppression_check(email=a).suppressed]
    allowed = [a for a in addresses if a not in refused]
    contact = as_contact or stand_in_contact()
    messages = [_render(campaign, compiled, contact, to=a, prefix=SUBJECT_PREFIX) for a in allowed]
    with transaction.atomic():
        log = CampaignTestSend.objects.create(
            campaign=campaign,
            sent_by=user if getattr(user, "pk", None) else None,
            requested_by=by[:200],
            rendered_as=as_contact if getattr(as_contact, "pk", None) else None,
            recipients=allowed,
            refused=refused,
        )
    # Logged before the transport is called: an attempt that fails midway is still on record.
    if messages:
        try:
            with marketing_connection() as connection:
                connection.send_messages([message.as_email(connection) for message in messages])
        except Exception as exc:  # whatever the transport raises: socket, SMTP, an ESP's API
            raise MailUnavailable(
                _("The mail server did not take the test: %(error)s")
                % {"error": f"{type(exc).__name__}: {exc}"}
            ) from exc
    return TestSendResult(sent=allowed, refused=refused, log=log)
