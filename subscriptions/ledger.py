"""Writing the consent ledger: the one place a ConsentEvent is created."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from .models import ConsentEvent, Contact, Topic
from .policy import current_policy_version
from .ratelimit import client_ip


def minimise_ip(raw: str | None) -> str | None:
    """Keep only the network part of an address: IPv4 /24, IPv6 /48."""
    if not raw:
        return None
    try:
        ip = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@dataclass(frozen=True)
class Actor:
    """Who did something and how: the provenance every ledger row carries.

    Build it once per request, task or command and pass it to the services.
    """

    source: str
    ip_address: str | None = None
    user_agent: str = ""
    wording: str = ""
    evidence: str = ""
    actor: str = ""
    staff_user: object | None = None
    extra: dict = field(default_factory=dict)
    # The policy version shown when the person acted, when that was earlier than the write
    # (a public form's queued task); empty: the version in force when the row is written.
    policy_version: str = ""

    @classmethod
    def from_request(cls, request, source: str, **kwargs) -> Actor:
        # The visitor's address, not a trusted proxy's (TRUSTED_PROXIES), as rate limits see it.
        ip = client_ip(request)
        ua = request.META.get("HTTP_USER_AGENT", "")[:300]
        return cls(
            source=source, ip_address=None if ip == "unknown" else ip, user_agent=ua, **kwargs
        )


def record(
    *,
    contact: Contact,
    action: str,
    by: Actor,
    topic: Topic | None = None,
    old_status: str = "",
    new_status: str = "",
) -> ConsentEvent:
    """Append one row to the ledger. Call inside the transaction that made the change."""
    staff = by.staff_user if getattr(by.staff_user, "pk", None) else None
    return ConsentEvent.objects.create(
        contact=contact,
        topic=topic,
        action=action,
        old_status=old_status or "",
        new_status=new_status or "",
        source=by.source,
        policy_version=by.policy_version or current_policy_version(),
        wording=by.wording,
        ip_address=minimise_ip(by.ip_address),
        user_agent=by.user_agent[:300],
        evidence=by.evidence,
        actor=by.actor or (staff.get_username() if staff else ""),
        staff_user=staff,
    )
