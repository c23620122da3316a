"""Building the email both roads send: templates under templates/emails/<name>/, rendered in the
person's language, and the transactional message with its own sender and stream."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils import translation


def render_email(name: str, context: dict, locale: str | None = None) -> tuple[str, str, str]:
    """Render templates/emails/<name>/{subject.txt,body.txt,body.html} in the contact's locale."""
    context = {
        "organization_name": settings.ORGANIZATION_NAME,
        "postal_address": settings.POSTAL_ADDRESS,
        **context,
    }
    with translation.override(locale or settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string(f"emails/{name}/subject.txt", context).split())
        text = render_to_string(f"emails/{name}/body.txt", context)
        html = render_to_string(f"emails/{name}/body.html", context)
    return subject, text, html


def transactional_connection():
    return get_connection(settings.TRANSACTIONAL_EMAIL_BACKEND)


def build_transactional_message(
    *, to: str, subject: str, text: str, html: str = "", connection=None
) -> EmailMultiAlternatives:
    """A system message: its own From address, its own stream tag, no marketing headers."""
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.TRANSACTIONAL_FROM_EMAIL,
        to=[to],
        connection=connection,
    )
    if html:
        message.attach_alternative(html, "text/html")
    message.tags = ["transactional"]
    message.track_clicks = False
    return message
