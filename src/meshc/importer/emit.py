"""The imported spec as YAML: keys in one stable order, and above each part a comment
saying where it came from (``# from bookinfo/virtual-service-reviews-50-v3.yaml:1``)."""

from __future__ import annotations

from typing import Any

import yaml

from .draft import FROM

# The spec's keys in the order its schema and examples write them; any other key
# (labels, header names, versions of a split) follows in alphabetical order.
KEY_ORDER = (
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "provider",
    "dataplane",
    "mtls",
    "trustDomain",
    "revision",
    "namespaces",
    "services",
    "ingress",
    "egress",
    "telemetry",
    "overrides",
    "admission",
    "target",
    "name",
    "namespace",
    "gateway",
    "serviceAccount",
    "className",
    "host",
    "hosts",
    "selector",
    "labels",
    "annotations",
    "manage",
    "service",
    "ports",
    "port",
    "targetPort",
    "protocol",
    "versions",
    "listeners",
    "routes",
    "match",
    "matches",
    "path",
    "headers",
    "grpc",
    "method",
    "exact",
    "prefix",
    "regex",
    "to",
    "split",
    "backend",
    "timeout",
    "retries",
    "attempts",
    "perTryTimeout",
    "retryOn",
    "fault",
    "delay",
    "fixed",
    "abort",
    "httpStatus",
    "grpcStatus",
    "percent",
    "mirror",
    "request",
    "response",
    "set",
    "add",
    "remove",
    "rewrite",
    "redirect",
    "scheme",
    "statusCode",
    "tls",
    "secretName",
    "connectionPool",
    "maxConnections",
    "http1MaxPendingRequests",
    "http2MaxRequests",
    "maxRequestsPerConnection",
    "outlierDetection",
    "consecutive5xxErrors",
    "interval",
    "baseEjectionTime",
    "maxEjectionPercent",
    "allow",
    "fromNamespaces",
    "fromServiceAccounts",
    "rateLimit",
    "requestsPerSecond",
    "perCallerRequestsPerSecond",
    "tracing",
    "samplingPercent",
    "accessLogging",
    "metrics",
    "enabled",
    "exemptions",
    "reason",
    "op",
    "value",
    "from",
    "merge",
    "patch",
)
_RANK = {key: i for i, key in enumerate(KEY_ORDER)}
# An exception's keys (spec.admission.exceptions[]), as the schema and docs write them.
_EXCEPTION_ORDER = (
    "name",
    "policies",
    "namespaces",
    "kinds",
    "names",
    "selector",
    "paths",
    "reason",
    "expires",
)
# Maps whose keys are data, not fields: kept as given.
_DATA_KEYS = ("labels", "annotations", "selector", "set", "add", "split", "merge", "value")


def ordered(value: Any, parent: str = "") -> Any:
    """``value`` with every mapping's keys in the spec's order (data maps sorted by key)."""
    if isinstance(value, dict):
        if parent == "allow":
            keys = sorted(
                (k for k in value if k != FROM),
                key=lambda k: (
                    ("fromNamespaces", "fromServiceAccounts", "ports").index(k)
                    if k in ("fromNamespaces", "fromServiceAccounts", "ports")
                    else 3,
                    k,
                ),
            )
        elif parent == "exceptions":
            keys = sorted(
                (k for k in value if k != FROM),
                key=lambda k: (
                    _EXCEPTION_ORDER.index(k) if k in _EXCEPTION_ORDER else len(_EXCEPTION_ORDER),
                    k,
                ),
            )
        elif parent in _DATA_KEYS:
            keys = (
                sorted(k for k in value if k != FROM)
                if parent != "merge" and parent != "value" and parent != "split"
                else [k for k in value if k != FROM]
            )
        else:
            keys = sorted(
                (k for k in value if k != FROM), key=lambda k: (_RANK.get(k, len(_RANK)), k)
            )
        out = {
            k: ordered(value[k], k if parent not in ("merge", "value") else "value") for k in keys
        }
        if FROM in value:
            out[FROM] = value[FROM]
        return out
    if isinstance(value, list):
        return [ordered(v, parent) for v in value]
    return value


def _scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True)
    return text.removesuffix("\n...\n").rstrip("\n")


def _comment(places: list[str], indent: str) -> list[str]:
    return [f"{indent}# from {', '.join(places)}"]


def _is_leaf(value: Any) -> bool:
    return not isinstance(value, (dict, list)) or not value


def _lines(value: Any, indent: str) -> list[str]:
    """The block YAML of a mapping or list at ``indent``."""
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == FROM:
                continue
            if isinstance(item, dict) and FROM in item:
                out += _comment(item[FROM], indent)
            head = f"{indent}{_scalar(key)}:"
            if _is_leaf(item):
                out.append(f"{head} {_scalar(item)}")
            else:
                out.append(head)
                out += _lines(item, indent + ("  " if isinstance(item, dict) else ""))
        return out
    for item in value:
        if isinstance(item, dict) and FROM in item:
            out += _comment(item[FROM], indent)
        if _is_leaf(item):
            out.append(f"{indent}- {_scalar(item)}")
            continue
        inner = _lines(item, indent + "  ")
        first = next(i for i, line in enumerate(inner) if not line.lstrip().startswith("#"))
        inner[first] = f"{indent}- {inner[first][len(indent) + 2 :]}"
        out += inner
    return out


def to_yaml(spec: dict[str, Any], header: list[str]) -> str:
    """The spec document, ``header`` lines as comments above it."""
    lines = [f"# {h}" if h else "#" for h in header]
    lines += _lines(ordered(spec), "")
    return "\n".join(lines) + "\n"
