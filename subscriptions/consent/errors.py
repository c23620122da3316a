"""What a consent service refuses, each with the code the API and pages answer with."""

from __future__ import annotations


class ConsentError(Exception):
    code = "consent_error"


class ResubscribeRequiresConfirmation(ConsentError):
    """The contact opted out or is suppressed; only their own confirmed consent can undo it."""

    code = "resubscribe_requires_confirmation"


class ErasedRequiresDoubleOptIn(ConsentError):
    """The person had this address erased; only their own confirmed consent brings it back."""

    code = "erased_requires_double_opt_in"


class UnknownFrequency(ConsentError):
    code = "unknown_frequency"


class ConfirmationUnusable(ConsentError):
    """The confirmation link was genuine but cannot confirm any more; nothing was changed."""


class ConfirmationUsed(ConfirmationUnusable):
    code = "confirmation_used"


class ConfirmationOvertaken(ConfirmationUnusable):
    """An opt-out or complaint came after the confirmation was sent: it no longer confirms."""

    code = "confirmation_overtaken"
