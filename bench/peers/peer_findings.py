"""What each tool found, as ``(rule, kind, name)`` triples comparable with corpus.expected().

The peers' policies (bench/peers/*) start every message with the rule's id
and a colon; meshc's findings are named by the field they point at.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

Finding = tuple[str, str, str]

# meshc's finding path (after the pod template's prefix) -> the rule of the ports it is.
_MESHC_PATHS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), rule)
    for pattern, rule in (
        (r'labels\["sidecar\.istio\.io/inject"\]$', "opt-out"),
        (r'annotations\["sidecar\.istio\.io/inject"\]$', "opt-out"),
        (r'annotations\["sidecar\.istio\.io/interceptionMode"\]$', "interception-mode"),
        (r"spec\.hostNetwork$", "host-network"),
        (r'annotations\["traffic\.sidecar\.istio\.io/', "capture-annotation"),
        (r"spec\.securityContext\.runAsUser$", "pod-proxy-uid"),
        (r"Containers\[\d+\]\.securityContext\.runAsUser$", "proxy-uid"),
        (r"Containers\[\d+\]\.securityContext\.runAsGroup$", "proxy-gid"),
        (r"Containers\[\d+\]\.securityContext\.privileged$", "privileged"),
        (r"Containers\[\d+\]\.image$", "mesh-container-image"),
        (r'labels\["security\.istio\.io/tlsMode"\]$', "tls-mode"),
    )
)


def meshc_rule(violation: dict[str, Any]) -> str:
    path = str(violation["path"]).replace("containers[", "Containers[")
    if "capabilities.add[" in path:
        return (
            "host-pid-capability" if "PID namespace" in violation["problem"] else "net-capability"
        )
    for pattern, rule in _MESHC_PATHS:
        if pattern.search(path):
            return rule
    return f"meshc:{violation['policy']}:{violation['path']}"


def from_meshc_json(text: str) -> set[Finding]:
    """``meshc check --format json``."""
    return {(meshc_rule(v), v["kind"], v["name"]) for v in json.loads(text or "[]")}


_MESSAGE = re.compile(r"^(?P<rule>[a-z-]+): (?P<kind>[A-Za-z]+) [^/ ]*/(?P<name>[^: ]+)")


def from_message(message: str) -> Finding:
    """A peer's message: ``<rule>: <Kind> <namespace>/<name>: ...``."""
    m = _MESSAGE.match(message.strip())
    if m is None:
        raise ValueError(f"a message not shaped as the peers' policies write them: {message!r}")
    return (m["rule"], m["kind"], m["name"])


def from_conftest_json(text: str) -> set[Finding]:
    """``conftest test -o json``: one entry per file, its failures' messages."""
    found: set[Finding] = set()
    for entry in json.loads(text):
        for failure in entry.get("failures") or []:
            found.add(from_message(failure["msg"]))
    return found


def from_gator_json(text: str) -> set[Finding]:
    """``gator test -o json``: one entry per violation."""
    found: set[Finding] = set()
    for entry in json.loads(text or "[]") or []:
        found.add(from_message(entry["msg"]))
    return found


def from_kyverno_report(text: str) -> set[Finding]:
    """``kyverno apply --policy-report``: the failed results of the report(s) it prints."""
    found: set[Finding] = set()
    # Kyverno 1.19 prints its deprecation warning for a kyverno.io/v1 ClusterPolicy on
    # standard output, before the report: the report starts at its first document.
    start = re.search(r"^(?:---|apiVersion:)", text, re.MULTILINE)
    for doc in yaml.safe_load_all(text[start.start() :] if start else ""):
        if not isinstance(doc, dict):
            continue
        for result in doc.get("results") or []:
            if result.get("result") not in ("fail", "error"):
                continue
            message = str(result.get("message", ""))
            for resource in result.get("resources") or [{}]:
                found.add(_kyverno_finding(message, resource))
    return found


def _kyverno_finding(message: str, resource: dict[str, Any]) -> Finding:
    # A ClusterPolicy's message may be prefixed by Kyverno ("validation error: ...",
    # "rule X failed at path ..."); the policies' own text starts at the rule id.
    m = re.search(r"(?:^|[\s:])((?:[a-z]+-)*[a-z]+: [A-Za-z]+ [^/ ]*/[^: ]+)", message)
    if m is not None:
        return from_message(m.group(1))
    return (f"kyverno:{message}", str(resource.get("kind", "")), str(resource.get("name", "")))
