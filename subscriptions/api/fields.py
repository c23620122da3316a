"""The field types of the API's request bodies: strict JSON types, canonical addresses and
locales, attributes PostgreSQL can store. Each refuses with a field error (a 400), never lets a
value through that would fail later in the database."""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers

from ..addresses import InvalidAddress, normalize_email
from ..locales import InvalidLocale, normalize_locale

# JSON types a field must be given as; DRF would otherwise coerce 12 into "12" and "yes" into True.
STRICT_TYPES: tuple[tuple[type[serializers.Field], type | tuple[type, ...], str], ...] = (
    (serializers.CharField, str, "a string"),
    (serializers.BooleanField, bool, "true or false"),
)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know and values of the wrong JSON type."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
            for name, field in self.fields.items():
                if name not in data or (data[name] is None and field.allow_null):
                    continue
                for kind, expected, label in STRICT_TYPES:
                    if isinstance(field, kind) and not isinstance(data[name], expected):
                        errors[name] = [f"Must be {label}."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class EmailField(serializers.CharField):
    """An address, returned in its canonical form (subscriptions.addresses); else `invalid_email`."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return normalize_email(value)
        except InvalidAddress as exc:
            raise serializers.ValidationError(
                f"Not a valid email address ({exc}).", code="invalid_email"
            ) from None


class LocaleField(serializers.CharField):
    """One of the languages the pages speak (`da-DK` is `da`); else `invalid_locale`."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 35)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return normalize_locale(value)
        except InvalidLocale as exc:
            raise serializers.ValidationError(str(exc), code="invalid_locale") from None


def _storable(value, depth: int = 0) -> None:
    """JSON that PostgreSQL's jsonb can hold: no NUL or lone surrogates, bounded nesting."""
    if depth > 10:
        raise serializers.ValidationError("Nested too deeply.")
    if isinstance(value, str):
        if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
            raise serializers.ValidationError("Text may not contain NUL or surrogate characters.")
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key, depth + 1)
            _storable(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _storable(item, depth + 1)


class AttributesField(serializers.JSONField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be an object.")
        _storable(value)
        return value
