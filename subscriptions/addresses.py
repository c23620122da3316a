"""The one canonical mailbox of an address, and the keyed hash that suppression is keyed by.

Every entry point (pages, API, import, admin, webhooks, transactional mail) goes through
`normalize_email`, so one mailbox has one contact, one suppression hash and one rate-limit key:

- white space around the address is dropped;
- a quoted local part that is a plain dot-atom is unquoted (`"ann"@example.com` is
  `ann@example.com`); any other quoted local part is refused, since mail servers disagree on
  what it means;
- the domain is mapped with UTS-46 and encoded with IDNA 2008 (the `idna` package): `straße.de`
  is `xn--strae-oqa.de`, never IDNA 2003's `strasse.de`, which is another domain;
- address literals (`root@[127.0.0.1]`), single-label domains (`root@localhost`) and numeric
  top-level labels are refused: they reach the sending host itself or its network;
- the local part's case is kept for display but addresses are *matched* case-insensitively
  (`address_key`); `+tags` and dots are never stripped: they are meaningful to some servers.

Suppression rows cannot be re-hashed when this canonical form changes (an erased address is
gone), so every version of the form stays known here: a row records the version it hashed, and a
check matches the hashes of every version of the address (`address_hashes`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re

import idna
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

# Version 1: the form before issue 9 (local part as given, quotes kept, IDNA 2003).
# Version 2: the form described above. A new version is appended, never edited.
LEGACY_VERSION = 1
CURRENT_VERSION = 2
VERSIONS = (LEGACY_VERSION, CURRENT_VERSION)

_validate = EmailValidator(allowlist=[])
# RFC 5322 dot-atom (ASCII only, as Django's validator: no SMTPUTF8 local parts).
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


class InvalidAddress(ValueError):
    """The text is not a deliverable email address."""

    code = "invalid_email"


def normalize_email(raw: str) -> str:
    """Return the canonical form of `raw` (version 2), or raise InvalidAddress saying why.

    Idempotent: the canonical form of a canonical address is itself.
    """
    if not isinstance(raw, str):
        raise InvalidAddress("not a string")
    candidate = raw.strip()
    if len(candidate) > 254 or "@" not in candidate:
        raise InvalidAddress("not an email address")
    local, _sep, domain = candidate.rpartition("@")
    if not local or not domain:
        raise InvalidAddress("not an email address")
    local = _canonical_local(local)
    domain = _canonical_domain(domain)
    normalized = f"{local}@{domain}"
    if len(normalized) > 254:
        raise InvalidAddress("the address is too long")
    try:
        _validate(normalized)
    except ValidationError:
        raise InvalidAddress("not a valid email address") from None
    return normalized


def _canonical_local(local: str) -> str:
    if len(local) >= 2 and local.startswith('"') and local.endswith('"'):
        unquoted = _QUOTED_PAIR.sub(r"\1", local[1:-1])
        if not _DOT_ATOM.match(unquoted):
            raise InvalidAddress("a quoted local part is accepted only when it is a plain name")
        local = unquoted
    elif not _DOT_ATOM.match(local):
        raise InvalidAddress("the part before @ is not valid")
    if len(local) > 64:
        raise InvalidAddress("the part before @ is too long")
    return local


@functools.lru_cache(maxsize=4096)
def _canonical_domain(domain: str) -> str:
    if domain.startswith("["):
        raise InvalidAddress("address literals such as [127.0.0.1] are not accepted")
    try:
        encoded = idna.encode(domain, uts46=True, std3_rules=True, transitional=False)
    except (idna.IDNAError, UnicodeError, ValueError):
        raise InvalidAddress("the domain is not valid") from None
    ascii_domain = encoded.decode("ascii").lower()
    labels = ascii_domain.split(".")
    if len(labels) < 2:
        raise InvalidAddress("a domain without a dot (such as localhost) is not accepted")
    if labels[-1].isdigit():
        raise InvalidAddress("IP addresses are not accepted as domains")
    return ascii_domain


def address_key(normalized: str) -> str:
    """The case-insensitive matching key of a normalized address."""
    return normalized.lower()


def _hmac(key: str) -> str:
    return hmac.new(
        settings.SUPPRESSION_HASH_KEY.encode(), key.encode(), hashlib.sha256
    ).hexdigest()


def address_hash(email: str) -> str:
    """Keyed hash (HMAC-SHA256) of the current canonical form, stable across SECRET_KEY rotations.

    Accepts a raw or normalized address; raises InvalidAddress for anything else.
    """
    return _hmac(address_key(normalize_email(email)))


def _legacy_key(raw: str) -> str:
    """Version 1's matching key, exactly as the code before issue 9 computed it.

    Frozen on purpose: suppression rows written then carry hashes of these keys.
    """
    candidate = raw.strip()
    if len(candidate) > 254 or "@" not in candidate:
        raise InvalidAddress("not an email address")
    local, _sep, domain = candidate.rpartition("@")
    if not local or not domain:
        raise InvalidAddress("not an email address")
    try:
        domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidAddress("the domain is not valid") from None
    normalized = f"{local}@{domain}"
    try:
        EmailValidator()(normalized)
    except ValidationError:
        raise InvalidAddress("not a valid email address") from None
    return normalized.lower()


def version_keys(email: str) -> dict[int, str]:
    """The matching key of the address under every version that can express it.

    Version 1 of a canonical address is what the old code made of the same mailbox written with
    its domain in Unicode (`user@straße.de` was `user@strasse.de`). Raises InvalidAddress.
    """
    key = address_key(normalize_email(email))
    keys = {CURRENT_VERSION: key}
    local, _sep, domain = key.rpartition("@")
    if "xn--" not in domain:
        keys[LEGACY_VERSION] = key  # plain ASCII domains: both versions agree
        return keys
    try:
        keys[LEGACY_VERSION] = _legacy_key(f"{local}@{idna.decode(domain)}")
    except (InvalidAddress, idna.IDNAError, UnicodeError, ValueError):
        pass  # IDNA 2003 could not express this domain: no version-1 row can name it
    return keys


def key_hash(key: str) -> str:
    """The keyed hash of a matching key of any version."""
    return _hmac(key)


def address_hashes(email: str) -> list[str]:
    """The distinct hashes of every version of the address: what a suppression check matches.

    Usually one (the versions agree); the current version's hash comes first.
    """
    hashes = [key_hash(key) for _version, key in sorted(version_keys(email).items(), reverse=True)]
    return list(dict.fromkeys(hashes))


def alias_hashes(email: str) -> dict[str, int]:
    """Hashes of older versions that differ from the current one, with their version.

    A contact keeps these beside its own hash, so set-based audience queries match suppressions
    written under an older version. Usually empty.
    """
    keys = version_keys(email)
    current = key_hash(keys[CURRENT_VERSION])
    aliases: dict[str, int] = {}
    for version, key in sorted(keys.items()):
        hashed = key_hash(key)
        if hashed != current:
            aliases.setdefault(hashed, version)
    return aliases
