"""The grammar of segment rules: checked strictly, compiled to one Django Q over Contact.

    {"match": "all" | "any",
     "groups": [{"match": "all" | "any",
                 "conditions": [{"field": "locale", "op": "in", "value": ["da", "en"]}, …]}, …]}

The groups are combined by the outer `match`, each group's conditions by its own: an AND of
ORs, an OR of ANDs, or any mix one level deep. No group: the whole audience of the topic.

segment_rules_clean() refuses anything else with InvalidSegmentRules naming the rule
(`groups[0].conditions[1].op: …`); segment_filter() compiles clean rules to one Q. Every value
reaches the database as a query parameter, never as SQL text. Callers use them through
campaigns.segments.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from collections.abc import Callable
from functools import cache

from django.db.models import Exists, OuterRef, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.lookups import IContains
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from ..locales import InvalidLocale, normalize_locale
from ..models import Subscription, Topic
from ..models.choices import SegmentField, SegmentMatch, SegmentOperator, SubscriptionStatus

# Bounds that keep one segment a readable rule and one query a sane size.
MAX_GROUPS = 20
MAX_CONDITIONS = 30
MAX_LIST_VALUES = 300
MAX_TEXT = 200
ATTRIBUTE_PREFIX = "attributes."
# What an attribute name may be: what a merge field `contact.attributes.<name>` can name.
ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}\Z")
COUNTRY = re.compile(r"[A-Z]{2}\Z")

Op = SegmentOperator


class SegmentError(ValueError):
    """A segment change refused; `code` names why (the API's error code)."""

    code = "invalid_segment"


class InvalidSegmentRules(SegmentError):
    """Rules that do not follow the grammar above; the message starts with the rule's path."""

    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


# --- checking values ------------------------------------------------------------------------


def _text(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidSegmentRules(path, "a non-empty text is required.")
    if len(value) > MAX_TEXT or "\x00" in value:
        raise InvalidSegmentRules(path, f"at most {MAX_TEXT} characters, no NUL.")
    return value.strip()


def _locale(value: object, path: str) -> str:
    try:
        return normalize_locale(_text(value, path))
    except InvalidLocale as exc:
        raise InvalidSegmentRules(path, str(exc)) from None


def _country(value: object, path: str) -> str:
    code = _text(value, path).upper()
    if not COUNTRY.match(code):
        raise InvalidSegmentRules(path, f"{code!r} is not a two-letter country code (ISO 3166).")
    return code


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _time_zone(value: object, path: str) -> str:
    name = _text(value, path)
    if name not in _time_zones():
        raise InvalidSegmentRules(path, f"{name!r} is not a time zone (e.g. Europe/Copenhagen).")
    return name


def _moment(value: object, path: str) -> str:
    """A date (`2026-05-01`, midnight in the default time zone) or a datetime with a zone."""
    text = _text(value, path)
    try:
        day = parse_date(text)
        at = None if day else parse_datetime(text)
    except ValueError:
        day = at = None
    if day is None and (at is None or at.tzinfo is None):
        raise InvalidSegmentRules(
            path, f"{text!r} is not a date (YYYY-MM-DD) or a date-time with a time zone."
        )
    return text


def _scalar(value: object, path: str) -> str | int | float | bool:
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if len(value) > MAX_TEXT or "\x00" in value:
            raise InvalidSegmentRules(path, f"at most {MAX_TEXT} characters, no NUL.")
        return value
    raise InvalidSegmentRules(path, "a text, a number or true/false is required.")


def _one_of(check: Callable[[object, str], object]) -> Callable[[object, str], list]:
    def checked(value: object, path: str) -> list:
        if not isinstance(value, list) or not value:
            raise InvalidSegmentRules(path, "a non-empty list is required.")
        if len(value) > MAX_LIST_VALUES:
            raise InvalidSegmentRules(path, f"at most {MAX_LIST_VALUES} values.")
        return sorted({check(item, f"{path}[{i}]") for i, item in enumerate(value)})

    return checked


def _none(value: object, path: str) -> None:
    if value not in (None, "", []):
        raise InvalidSegmentRules(path, "this operator takes no value.")
    return None


# --- compiling: field → operator → (value check, Q builder) ---------------------------------


def _since(text: str) -> datetime.datetime:
    day = parse_date(text)
    if day is None:
        return parse_datetime(text)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


def _subscribed(lookup: str) -> Callable[..., Q]:
    def build(value: str, *, topic: Topic | None, **_) -> Q:
        subscriptions = Subscription.objects.filter(
            contact=OuterRef("pk"),
            status=SubscriptionStatus.SUBSCRIBED,
            **{f"consented_at__{lookup}": _since(value)},
        )
        if topic is not None:
            subscriptions = subscriptions.filter(topic=topic)
        return Q(Exists(subscriptions))

    return build


def _attribute_set(name: str) -> Q:
    # A key holding null or "" is not set, as a merge field showing nothing would tell.
    return (
        Q(attributes__has_key=name)
        & ~Q(attributes__contains={name: None})
        & ~Q(attributes__contains={name: ""})
    )


def _plain(column: str) -> dict[str, tuple[Callable, Callable[..., Q]]]:
    return {
        Op.EQUALS: (None, lambda value, **_: Q(**{column: value})),
        Op.IN: (None, lambda value, **_: Q(**{f"{column}__in": value})),
    }


def _dated(column: str) -> dict[str, tuple[Callable, Callable[..., Q]]]:
    return {
        Op.SINCE: (_moment, lambda value, **_: Q(**{f"{column}__gte": _since(value)})),
        Op.BEFORE: (_moment, lambda value, **_: Q(**{f"{column}__lt": _since(value)})),
    }


def _with_check(
    table: dict[str, tuple[Callable | None, Callable[..., Q]]], check: Callable
) -> dict[str, tuple[Callable, Callable[..., Q]]]:
    return {
        op: (given or (_one_of(check) if op == Op.IN else check), build)
        for op, (given, build) in table.items()
    }


# Each field: its operators, each with the check of its value and the Q it compiles to.
# `equals` on an attribute is JSON containment (@>) and `is set` a key test (?), both served by
# the GIN index on attributes; `contains` is a substring of the attribute's text (->>).
FIELDS: dict[str, dict[str, tuple[Callable, Callable[..., Q]]]] = {
    SegmentField.LOCALE: _with_check(_plain("locale"), _locale),
    SegmentField.COUNTRY: _with_check(_plain("country"), _country),
    SegmentField.TIME_ZONE: _with_check(_plain("time_zone"), _time_zone),
    SegmentField.SUBSCRIBED: {
        Op.SINCE: (_moment, _subscribed("gte")),
        Op.BEFORE: (_moment, _subscribed("lt")),
    },
    SegmentField.CREATED: _dated("created_at"),
    SegmentField.ATTRIBUTE: {
        Op.EQUALS: (
            _scalar,
            lambda value, *, name, **_: Q(attributes__contains={name: value}),
        ),
        Op.CONTAINS: (
            _text,
            lambda value, *, name, **_: Q(IContains(KeyTextTransform(name, "attributes"), value)),
        ),
        Op.IS_SET: (_none, lambda value, *, name, **_: _attribute_set(name)),
        Op.IS_NOT_SET: (_none, lambda value, *, name, **_: ~_attribute_set(name)),
    },
}


def _field(raw: object, path: str) -> tuple[str, str]:
    """(the FIELDS key, the attribute name or "") of a condition's `field`."""
    if not isinstance(raw, str):
        raise InvalidSegmentRules(path, "a field name is required.")
    if raw.startswith(ATTRIBUTE_PREFIX):
        name = raw.removeprefix(ATTRIBUTE_PREFIX)
        if not ATTRIBUTE_NAME.match(name):
            raise InvalidSegmentRules(
                path, "an attribute name is letters, digits, _ and - (at most 64)."
            )
        return SegmentField.ATTRIBUTE, name
    if raw in FIELDS and raw != SegmentField.ATTRIBUTE:
        return raw, ""
    known = ", ".join(f for f in FIELDS if f != SegmentField.ATTRIBUTE)
    raise InvalidSegmentRules(
        path, f"unknown field {raw[:40]!r}; use one of {known} or attributes.<name>."
    )


def _object(raw: object, path: str, keys: set[str], required: set[str]) -> dict:
    if not isinstance(raw, dict):
        raise InvalidSegmentRules(path, "an object is required.")
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise InvalidSegmentRules(path, f"unknown key {str(unknown[0])[:40]!r}.")
    missing = sorted(required - set(raw))
    if missing:
        raise InvalidSegmentRules(f"{path}.{missing[0]}" if path else missing[0], "required.")
    return raw


def _match(raw: object, path: str) -> str:
    if raw not in SegmentMatch.values:
        raise InvalidSegmentRules(path, 'use "all" or "any".')
    return raw


def _condition(raw: object, path: str) -> dict:
    condition = _object(raw, path, {"field", "op", "value"}, {"field", "op"})
    field, _name = _field(condition["field"], f"{path}.field")
    op = condition["op"]
    if op not in FIELDS[field]:
        raise InvalidSegmentRules(
            f"{path}.op",
            f"{str(op)[:40]!r} does not apply to {condition['field']}; "
            f"use one of {', '.join(FIELDS[field])}.",
        )
    check, _build = FIELDS[field][op]
    value = check(condition.get("value"), f"{path}.value")
    cleaned = {"field": condition["field"], "op": op}
    if value is not None:
        cleaned["value"] = value
    return cleaned


def segment_rules_clean(rules: object) -> dict:
    """The rules in their stored form (values normalised: `DA` → `da`, lists sorted), or
    InvalidSegmentRules naming the first rule at fault. An empty object: no narrowing."""
    if rules in (None, {}):
        return {"match": SegmentMatch.ALL, "groups": []}
    top = _object(rules, "", {"match", "groups"}, {"groups"})
    groups = top["groups"]
    if not isinstance(groups, list):
        raise InvalidSegmentRules("groups", "a list is required.")
    if len(groups) > MAX_GROUPS:
        raise InvalidSegmentRules("groups", f"at most {MAX_GROUPS} groups.")
    cleaned = []
    for g, raw_group in enumerate(groups):
        path = f"groups[{g}]"
        group = _object(raw_group, path, {"match", "conditions"}, {"conditions"})
        conditions = group["conditions"]
        if not isinstance(conditions, list) or not conditions:
            raise InvalidSegmentRules(f"{path}.conditions", "at least one condition.")
        if len(conditions) > MAX_CONDITIONS:
            raise InvalidSegmentRules(f"{path}.conditions", f"at most {MAX_CONDITIONS}.")
        cleaned.append(
            {
                "match": _match(group.get("match", SegmentMatch.ALL), f"{path}.match"),
                "conditions": [
                    _condition(c, f"{path}.conditions[{i}]") for i, c in enumerate(conditions)
                ],
            }
        )
    return {"match": _match(top.get("match", SegmentMatch.ALL), "match"), "groups": cleaned}


def _combine(parts: list[Q], match: str) -> Q:
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if match == SegmentMatch.ALL else combined | part
    return combined


def segment_filter(rules: object, *, topic: Topic | None = None) -> Q:
    """One Q over Contact matching exactly the contacts the rules select (Q() for no rules).

    `topic`: whose subscription a "subscribed since/before" condition reads (None: any topic).
    Raises InvalidSegmentRules for rules segment_rules_clean() refuses.
    """
    cleaned = segment_rules_clean(rules)
    groups = []
    for group in cleaned["groups"]:
        conditions = []
        for condition in group["conditions"]:
            field, name = _field(condition["field"], "")
            _check, build = FIELDS[field][condition["op"]]
            conditions.append(build(condition.get("value"), name=name, topic=topic))
        groups.append(_combine(conditions, group["match"]))
    return _combine(groups, cleaned["match"]) if groups else Q()
