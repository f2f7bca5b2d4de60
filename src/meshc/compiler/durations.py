"""Spec durations: Go's time.ParseDuration syntax, which Istio and Linkerd accept.

The schema checks the syntax (``DURATION``); this module gives the value.
Kept apart from validation so that targets converting durations depend on
nothing but this.
"""

from __future__ import annotations

import re

# No sign, at least one unit.
DURATION = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9.]+)(ns|us|µs|ms|s|m|h)")


def duration_seconds(text: str) -> float:
    """The length of a duration the schema accepted, in seconds."""
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
