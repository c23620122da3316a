"""Configurable consent policy: minimum age and the policy version in force."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import Q
from django.utils import timezone


def minimum_age(country: str = "") -> int:
    """The minimum age for marketing in `country` (ISO 3166 alpha-2), or the default."""
    return settings.MINIMUM_AGE_BY_COUNTRY.get((country or "").upper(), settings.MINIMUM_AGE)


def birth_date_cutoff(age: int, today: datetime.date | None = None) -> datetime.date:
    """Latest birth date of someone who is at least `age` years old on `today`."""
    today = today or timezone.localdate()
    try:
        return today.replace(year=today.year - age)
    except ValueError:  # 29 February: they come of age on 1 March in a non-leap year
        return today.replace(year=today.year - age, day=28)


def under_age_q(today: datetime.date | None = None, prefix: str = "") -> Q:
    """Q matching contacts whose birth date says they are under their country's minimum age."""
    overrides = settings.MINIMUM_AGE_BY_COUNTRY
    q = Q(**{f"{prefix}birth_date__gt": birth_date_cutoff(settings.MINIMUM_AGE, today)})
    if overrides:
        q &= ~Q(**{f"{prefix}country__in": list(overrides)})
        for country, age in overrides.items():
            q |= Q(
                **{
                    f"{prefix}country": country,
                    f"{prefix}birth_date__gt": birth_date_cutoff(age, today),
                }
            )
    return q


def current_policy_version() -> str:
    """The privacy-policy version in force now, recorded on every ConsentEvent."""
    return settings.POLICY_VERSION
