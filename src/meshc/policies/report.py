"""The output formats of ``meshc check``: one function each.

Every format carries the text of :func:`format_message`, so a finding reads
the same in a terminal, a CI annotation and the API server's answer. A
finding read from a file names it and the line; one read from a cluster
(``meshc audit``) has no file (``file`` empty): its message names the object.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .violations import Violation, format_message

# The admission outcome of each mode, as the formats name it.
_LEVELS = {"enforce": "error", "warn": "warning", "audit": "notice"}
_SARIF_LEVELS = {"enforce": "error", "warn": "warning", "audit": "note"}


@dataclass(frozen=True, order=True)
class Finding:
    file: str  # "" when the object was not read from a file
    line: int
    violation: Violation

    @property
    def message(self) -> str:
        return format_message(self.violation)


def text(findings: Sequence[Finding]) -> str:
    lines = []
    for f in findings:
        mode = f.violation.mode
        prefix = "" if mode == "enforce" else f"{_LEVELS[mode]}: "
        where = f"{f.file}:{f.line}: " if f.file else ""
        lines.append(f"{where}{prefix}{f.message}")
    return _join(lines)


def as_json(findings: Sequence[Finding]) -> str:
    rows = [
        {
            "file": f.file or None,
            "line": f.line if f.file else None,
            "mode": f.violation.mode,
            "policy": f.violation.policy,
            "kind": f.violation.kind,
            "namespace": f.violation.namespace,
            "name": f.violation.name,
            "path": f.violation.path,
            "problem": f.violation.problem,
            "fix": f.violation.fix,
            "source": f.violation.source,
            "message": f.message,
        }
        for f in findings
    ]
    return json.dumps(rows, indent=2) + "\n"


def github(findings: Sequence[Finding]) -> str:
    """GitHub Actions workflow commands, one annotation per finding."""
    return _join(
        f"::{_LEVELS[f.violation.mode]} "
        + (f"file={_escape_property(f.file)},line={f.line}," if f.file else "")
        + f"title={_escape_property('meshc:' + f.violation.policy)}::{_escape_data(f.message)}"
        for f in findings
    )


def sarif(findings: Sequence[Finding]) -> str:
    """SARIF 2.1.0, for code-scanning upload."""
    policies = sorted({f.violation.policy for f in findings})
    log: dict[str, Any] = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "meshc",
                        "version": _version(),
                        "rules": [{"id": p, "name": p} for p in policies],
                    }
                },
                "results": [
                    {
                        "ruleId": f.violation.policy,
                        "ruleIndex": policies.index(f.violation.policy),
                        "level": _SARIF_LEVELS[f.violation.mode],
                        "message": {"text": f.message},
                        "locations": [_location(f)],
                    }
                    for f in findings
                ],
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def _location(f: Finding) -> dict[str, Any]:
    if f.file:
        return {
            "physicalLocation": {
                "artifactLocation": {"uri": f.file},
                "region": {"startLine": f.line},
            }
        }
    # An object in a cluster: a logical location, Kind/namespace/name.
    v = f.violation
    return {
        "logicalLocations": [{"fullyQualifiedName": f"{v.kind}/{v.object_ref}", "kind": "resource"}]
    }


FORMATS: dict[str, Callable[[Sequence[Finding]], str]] = {
    "text": text,
    "json": as_json,
    "github": github,
    "sarif": sarif,
}


def _join(lines: Any) -> str:
    out = "\n".join(lines)
    return out + "\n" if out else ""


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _version() -> str:
    # Imported here: importlib.metadata is a noticeable part of every run's start-up.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("meshc")
    except PackageNotFoundError:
        return "0"
