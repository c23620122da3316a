from __future__ import annotations

import pytest
from django.test import override_settings

from subscriptions.consent import tokens
from subscriptions.consent.tokens import BadToken
from subscriptions.models import ConfirmationRequest


def test_it_round_trips_an_unsubscribe_token(alice, topic):
    token = tokens.unsubscribe_token(alice, topic)
    assert tokens.read_unsubscribe_token(token) == (alice, topic)


def test_it_keeps_tokens_opaque(alice, topic):
    for token in (tokens.unsubscribe_token(alice, topic), tokens.preferences_token(alice)):
        assert "alice" not in token and "example" not in token
        assert str(alice.pk) not in token.split(":")[0] or len(token) > 40


def confirmation_of(contact, topic):
    confirmation = ConfirmationRequest.objects.create(contact=contact)
    confirmation.topics.set([topic])
    return confirmation


def test_it_uses_a_salt_per_purpose(alice, topic):
    with pytest.raises(BadToken):
        tokens.read_unsubscribe_token(tokens.preferences_token(alice))
    with pytest.raises(BadToken):
        tokens.read_preference_link(tokens.confirm_token(confirmation_of(alice, topic)))
    with pytest.raises(BadToken):
        tokens.read_preference_link(tokens.privacy_request_token(alice))


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-3], lambda t: t + "x", lambda t: "x" + t[1:], lambda t: ""]
)
def test_it_refuses_forged_or_truncated_tokens(alice, topic, mangle):
    with pytest.raises(BadToken):
        tokens.read_unsubscribe_token(mangle(tokens.unsubscribe_token(alice, topic)))


def test_it_verifies_after_a_secret_key_rotation(alice, topic, settings):
    token = tokens.unsubscribe_token(alice, topic)
    old = settings.SECRET_KEY
    with override_settings(
        SECRET_KEY="a-brand-new-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        SECRET_KEY_FALLBACKS=[old],
    ):
        assert tokens.read_unsubscribe_token(token) == (alice, topic)
    with (
        override_settings(
            SECRET_KEY="a-brand-new-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            SECRET_KEY_FALLBACKS=[],
        ),
        pytest.raises(BadToken),
    ):
        tokens.read_unsubscribe_token(token)


def test_it_expires_confirmation_tokens(alice, topic, settings):
    token = tokens.confirm_token(confirmation_of(alice, topic))
    settings.CONFIRMATION_MAX_AGE_HOURS = -1
    with pytest.raises(BadToken):
        tokens.read_confirm_token(token)


@pytest.mark.parametrize("token", ["abc", ".eJy:1a2B:x-Y_z", "a b?c#d%e", "ü&=+@~"])
@pytest.mark.parametrize("name", ["unsubscribe", "preferences", "confirm", "privacy_erase"])
def test_it_builds_the_same_link_as_reverse(name, token):
    from django.urls import reverse, set_script_prefix

    assert tokens.token_path(name, token) == reverse(name, args=[token])
    set_script_prefix("/prefs/")
    try:
        assert tokens.token_path(name, token) == reverse(name, args=[token])
        assert tokens.token_path(name, token).startswith("/prefs/")
    finally:
        set_script_prefix("/")
