"""Saved lists of test addresses: who a marketer mails a campaign's test to (DESIGN rule 9)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..addresses import InvalidAddress, normalize_email

# The most addresses one test send may go to (campaigns.test_sends.MAX_TEST_RECIPIENTS agrees).
MAX_TEST_LIST_ADDRESSES = 20


def canonical_test_addresses(raw: list[str]) -> list[str]:
    """`raw` addresses in canonical form, duplicates dropped, in the order given. Raises
    ValidationError naming the first address that is not one, or when there are too many."""
    addresses: list[str] = []
    for value in raw:
        try:
            address = normalize_email(value)
        except InvalidAddress:
            raise ValidationError(
                _("%(value)s is not an email address."), code="invalid", params={"value": value}
            ) from None
        if address.lower() not in {a.lower() for a in addresses}:
            addresses.append(address)
    if len(addresses) > MAX_TEST_LIST_ADDRESSES:
        raise ValidationError(
            _("Give between 1 and %(max)d addresses."),
            code="too_many",
            params={"max": MAX_TEST_LIST_ADDRESSES},
        )
    return addresses


class TestList(models.Model):
    """A named list of addresses any staff user can pick when sending a test."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    addresses = models.JSONField(_("addresses"), default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("test address list")
        verbose_name_plural = _("test address lists")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.addresses = canonical_test_addresses(list(self.addresses or []))
        if not self.addresses:
            raise ValidationError({"addresses": _("Give at least one address.")})
