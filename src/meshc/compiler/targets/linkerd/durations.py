"""Spec durations in the form Linkerd's annotations parse.

Linkerd reads ``retry.linkerd.io/timeout``, ``timeout.linkerd.io/*`` and the
failure-accrual penalties as one whole number and one unit (``1500ms``,
``90s``), not as a Go duration (``1.5s``, ``1m30s``). The conversion is exact
down to the millisecond; below that Linkerd has no unit, so a fraction of a
millisecond is rounded and reported.
"""

from __future__ import annotations

import math

from ...durations import duration_seconds
from .. import Report

# Largest unit first: the shortest spelling that keeps the value whole.
_UNITS = (("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1))


def linkerd_duration(value: str, path: str, report: Report) -> str:
    exact_ms = duration_seconds(value) * 1000
    millis = max(1, math.floor(exact_ms + 0.5))  # half up, not to even
    if abs(exact_ms - millis) > 1e-6:
        report.lossy("durations.subMillisecond", path, f"{value!r} was rendered as {millis}ms")
    for unit, size in _UNITS:
        if millis % size == 0:
            return f"{millis // size}{unit}"
    raise AssertionError("unreachable: every whole number of milliseconds has a unit")
