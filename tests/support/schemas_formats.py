"""String formats with the meaning the Kubernetes API server gives them (kube-openapi strfmt).

Only the formats the schemas in use declare on strings: date-time, duration, byte, ipv4, ipv6.
Kubernetes ignores int32/int64/float/double (the type says enough), and so does this checker.
jsonschema's own "duration" is ISO 8601 ("PT5S"); Kubernetes means Go durations ("5s").
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime

from jsonschema import FormatChecker

FORMATS = FormatChecker(formats=())

_GO_DURATION = re.compile(r"[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)")
# strfmt falls back to "<n> <unit>" pairs, e.g. "3 days" or "1h 30min".
_LOOSE_DURATION = re.compile(r"\s*(?:\d+\s*[A-Za-zµ]+\s*)+")
_LOOSE_PAIR = re.compile(r"(\d+)\s*([A-Za-zµ]+)")
_BASE64 = re.compile(
    r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})"
)
_LOOSE_UNITS = (("ns", "nano"), ("us", "µs", "micro"), ("ms", "milli"), ("s", "sec"),
                ("m", "min"), ("h", "hr", "hour"), ("d", "day"), ("w", "wk", "week"))  # fmt: skip


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if len(value) < 11 or value[10] not in "Tt ":
        return False
    try:
        datetime.fromisoformat(value.upper())
    except ValueError:
        return False
    return True


def _duration(value: object) -> bool:
    if not isinstance(value, str) or _GO_DURATION.fullmatch(value):
        return True
    if not _LOOSE_DURATION.fullmatch(value):
        return False
    return any(_loose_unit(unit) for _, unit in _LOOSE_PAIR.findall(value))


def _loose_unit(unit: str) -> bool:
    unit = unit.lower()
    # The last spelling of each unit also matches as a prefix ("hours", "weeks").
    return any(
        unit == u or (u == units[-1] and unit.startswith(u))
        for units in _LOOSE_UNITS
        for u in units
    )


def _byte(value: object) -> bool:
    # govalidator.IsBase64: padded standard alphabet, and not empty.
    return not isinstance(value, str) or _BASE64.fullmatch(value) is not None


def _ipv4(value: object) -> bool:
    # Go's net.ParseIP plus a '.', so an IPv4-mapped IPv6 address counts too.
    return not isinstance(value, str) or (_parses_as_ip(value) and "." in value)


def _ipv6(value: object) -> bool:
    return not isinstance(value, str) or (_parses_as_ip(value) and ":" in value)


def _parses_as_ip(value: str) -> bool:
    if "%" in value:  # net.ParseIP has no zones
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


for _name, _check in {
    "date-time": _date_time,
    "duration": _duration,
    "byte": _byte,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
}.items():
    FORMATS.checks(_name)(_check)
