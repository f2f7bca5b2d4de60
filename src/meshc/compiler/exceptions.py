"""Policy exceptions (spec.admission.exceptions): their expiry, and the warnings about it.

An exception names the policies it lifts, the objects it applies to
(namespaces, kinds, names or name prefixes, a label selector on the pods),
optionally the findings (their field paths), why, and until when. The
policies apply it (``meshc.main`` in the Rego marks a matching violation);
the engine frame checks its expiry at the time of the evaluation, so an
expired exception stops applying without a reload.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .errors import Problem
from .model import Mesh

# `meshc validate` warns this long before an exception expires.
WARN_BEFORE = timedelta(days=14)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def expiry(value: Any) -> datetime:
    """``expires`` as an aware UTC datetime: an RFC 3339 time, or a date (00:00 UTC that day).

    YAML reads an unquoted date or time as one; a string is parsed. ValueError when
    it is neither.
    """
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        text = value.strip()
        if _DATE.match(text):
            return expiry(date.fromisoformat(text))
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            raise ValueError("a time needs its offset (Z or +hh:mm)")
        return parsed.astimezone(UTC)
    raise ValueError(f"expected a date or an RFC 3339 time, got {type(value).__name__}")


def shown(when: datetime) -> str:
    """An expiry as people read it: the date alone at midnight UTC."""
    if (when.hour, when.minute, when.second, when.microsecond) == (0, 0, 0, 0):
        return when.date().isoformat()
    return when.isoformat().replace("+00:00", "Z")


def expiry_warnings(mesh: Mesh, now: datetime | None = None) -> list[Problem]:
    """Exceptions that expired (and no longer apply) or expire within WARN_BEFORE."""
    now = now or datetime.now(UTC)
    found = []
    for e in mesh.admission.exceptions:
        if e.expires is None:
            continue
        line, col = mesh.locate(f"{e.path}.expires")
        if e.expires <= now:
            message = (
                f"exception {e.name!r} expired on {shown(e.expires)} and no longer applies: "
                "its findings are judged again; remove it, or extend expires"
            )
        elif e.expires - now <= WARN_BEFORE:
            days = (e.expires - now).days
            message = (
                f"exception {e.name!r} expires on {shown(e.expires)} (in {days} day"
                f"{'s' if days != 1 else ''}): then its findings are judged again "
                f"({', '.join(e.policies)} in {', '.join(e.namespaces)})"
            )
        else:
            continue
        found.append(Problem(mesh.source, line, col, f"{e.path}.expires", message, "warning"))
    return found


def policy_exceptions(mesh: Mesh) -> list[dict[str, Any]]:
    """The exceptions as ``data.meshc.config.exceptions``: what the Rego matches on, and
    what the engine frame reports and checks the expiry of."""
    return [
        {
            "name": e.name,
            "policies": list(e.policies),
            "namespaces": list(e.namespaces),
            "kinds": list(e.kinds),
            "names": list(e.names),
            "selector": dict(e.selector),
            "paths": list(e.paths),
            "reason": e.reason,
            "expires": e.expires.timestamp() if e.expires else None,
            "until": shown(e.expires) if e.expires else "",
            "source": f"{mesh.source}#{e.path}",
        }
        for e in mesh.admission.exceptions
    ]
