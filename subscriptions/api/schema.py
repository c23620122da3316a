"""OpenAPI post-processing: say in the schema what the serializers enforce."""

from __future__ import annotations


def forbid_unknown_fields(result: dict, generator, request, public) -> dict:
    """Request bodies reject unknown fields (api.fields.StrictSerializer), so declare that."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component.setdefault("additionalProperties", False)
    return result
