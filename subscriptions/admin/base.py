"""What every admin page shares, written once: who a staff change is recorded as, the read-only
page, and the search of contacts by address."""

from __future__ import annotations

from django.http import HttpRequest

from ..addresses import InvalidAddress, address_key, normalize_email
from ..consent.ledger import Actor
from ..models.choices import Source


def staff_actor(request: HttpRequest, *, evidence: str = "") -> Actor:
    """The provenance of a change made in the admin: the employee, their browser, the evidence."""
    return Actor.from_request(
        request, Source.ADMIN, staff_user=request.user, evidence=evidence.strip()
    )


class ReadOnlyAdminMixin:
    """Viewable by staff with the view permission; never added, changed or deleted here.

    For records that are facts (the ledger, mail sent, removals logged) or pages that only show
    (an upload form, a report): a change to what they record goes through a service elsewhere.
    The signatures fit both a ModelAdmin and an inline.
    """

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def email_key_lookup(term: str, field: str = "email_key") -> dict[str, str]:
    """Filter kwargs for an address search: an exact (indexed) match for a whole address,
    otherwise a substring of the lowercased key, so staff can type part of one."""
    try:
        return {field: address_key(normalize_email(term))}
    except InvalidAddress:
        return {f"{field}__contains": term.lower()}


class AddressSearchMixin:
    """The search box also matches a contact's address (whole, in any spelling, or a part of
    it) through `address_key_field`, besides the admin's own `search_fields`."""

    address_key_field = "email_key"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        matches, may_have_duplicates = super().get_search_results(request, queryset, term)
        by_address = queryset.filter(**email_key_lookup(term, self.address_key_field))
        return matches | by_address, may_have_duplicates
