"""Building blocks of the spec schema: name syntax, and small constructors for its nodes.

Shared by :mod:`meshc.compiler.schema` (the spec as a whole) and
:mod:`meshc.compiler.schema_traffic` (traffic management, ingress, egress,
rate limits and telemetry).
"""

from __future__ import annotations

from typing import Any

from .durations import DURATION

DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# A DNS-1123 subdomain: labels joined by dots (a host name, a Kubernetes object name).
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Label keys: optional DNS-subdomain prefix, then a name segment.
LABEL_KEY = r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
# An HTTP header name (RFC 7230 token).
HEADER_NAME = r"^[A-Za-z0-9!#\$%&'*+.^_`|~-]+$"


def obj(
    properties: dict[str, Any], required: tuple[str, ...] = (), description: str = ""
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    return schema


def string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def integer(description: str, minimum: int = 0, maximum: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum, "description": description}
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def name(description: str) -> dict[str, Any]:
    return string(description, pattern=DNS1123_LABEL, maxLength=63)


def names(description: str) -> dict[str, Any]:
    return {"type": "array", "items": name("a namespace name"), "description": description}


def duration(description: str) -> dict[str, Any]:
    return string(description + " (a Go duration such as 500ms, 3s, 1m30s)", pattern=DURATION)


LABELS = {
    "type": "object",
    "propertyNames": {"pattern": LABEL_KEY, "maxLength": 317},
    "additionalProperties": {"type": "string", "pattern": LABEL_VALUE, "maxLength": 63},
}
ANNOTATIONS = {
    "type": "object",
    "propertyNames": {"pattern": LABEL_KEY, "maxLength": 317},
    "additionalProperties": {"type": "string"},
}
PORT = {"type": "integer", "minimum": 1, "maximum": 65535}

STRING_MATCH = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 1,
    "description": "exactly one of exact, prefix or regex (RE2)",
    "properties": {
        "exact": {"type": "string"},
        "prefix": {"type": "string"},
        "regex": {"type": "string"},
    },
}
