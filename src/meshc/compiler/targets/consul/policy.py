"""Consul authorization and upstream limits: a service's allow rules as ServiceIntentions,
and its connection pool and outlier detection in its callers' ServiceDefaults.

Intentions name services (on Consul CE in no namespace), and the called
service's sidecar enforces them: consul-k8s writes the entry
(``ServiceIntentions.ToConsul``) and Consul turns the sources into the RBAC
filter of the service's inbound listener (agent/xds/rbac.go,
``makeRBACNetworkFilter`` and ``makeRBACHTTPFilter`` over
``intentionListToIntermediateRBACForm``), the most precise source first: the
named callers are allowed, and ``*`` denied explicitly, whatever the cluster's
default intention policy. consul-k8s writes no intentions for its API gateway,
so a service an ingress routes to admits the gateway's Consul service, named
like the Gateway (ingress.py), beside its allow rules' callers.

Limits and passive health checks are upstream settings: Consul reads them from
the *caller's* ServiceDefaults, ``upstreamConfig.overrides`` keyed by the
called service (agent/configentry/resolve.go, ``ComputeResolvedServiceConfig``;
merged into the caller's upstreams by merge_service_config.go,
``MergeServiceConfig``), and puts them on every cluster of the called service's
chain in the caller's sidecar (agent/xds/clusters.go,
``makeUpstreamClustersForDiscoveryChain``: ``makeThresholdsIfNeeded`` for the
limits, agent/xds/config ``ToOutlierDetection`` for the health check).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...model import AllowRule, Mesh, Service
from ...objects import Obj, metadata, new_object
from .. import Report
from .common import API
from .ingress import gateway_names


@dataclass(frozen=True)
class Callers:
    """Who may call a service: the Consul services its intentions admit, or everyone."""

    names: tuple[str, ...]  # the sources its intentions allow, in order
    restricted: bool  # False: no allow rules, so any service may call it


def _rule_ports_cover(svc: Service, rule: AllowRule) -> bool:
    return not rule.ports or set(rule.ports) == {p.port for p in svc.ports}


def callers(mesh: Mesh, svc: Service, report: Report | None = None) -> Callers:
    """The sources of the service's intentions (reporting what they lose, given a report)."""
    if not svc.allow:
        return Callers((), False)
    names: list[str] = []
    for rule in svc.allow:
        if not _rule_ports_cover(svc, rule):
            if report is not None:
                report.lossy(
                    "services.allow.ports",
                    f"{rule.path}.ports",
                    "the rule was not rendered: its callers are denied",
                )
            continue
        for j, ns in enumerate(rule.from_namespaces):
            declared = [s.name for s in mesh.services if s.namespace == ns]
            if report is not None:
                instead = (
                    f"rendered as the services the spec declares in {ns!r}: " + ", ".join(declared)
                    if declared
                    else f"the spec declares no service in {ns!r}, so no caller from it is admitted"
                )
                report.lossy(
                    "services.allow.fromNamespaces", f"{rule.path}.fromNamespaces[{j}]", instead
                )
            names += declared
        for j, account in enumerate(rule.from_service_accounts):
            name = account.partition("/")[2]
            if report is not None:
                report.lossy(
                    "services.allow.fromServiceAccounts",
                    f"{rule.path}.fromServiceAccounts[{j}]",
                    f"rendered as the Consul service {name!r}",
                )
            names.append(name)
    names += gateway_names(mesh, svc)
    return Callers(tuple(dict.fromkeys(names)), True)


def service_intentions(mesh: Mesh, svc: Service, report: Report) -> list[Obj]:
    if not svc.allow:
        return []
    allowed = callers(mesh, svc, report).names
    sources = [{"name": name, "action": "allow"} for name in allowed]
    sources.append({"name": "*", "action": "deny"})
    return [
        new_object(
            API,
            "ServiceIntentions",
            metadata(mesh, "ServiceIntentions", svc.name, svc.namespace, f"{svc.path}.allow"),
            spec={"destination": {"name": svc.name}, "sources": sources},
        )
    ]


_LIMITS = (
    ("maxConnections", "maxConnections"),
    ("http1MaxPendingRequests", "maxPendingRequests"),
    ("http2MaxRequests", "maxConcurrentRequests"),
)
_PASSIVE = (
    ("consecutive5xxErrors", "maxFailures"),
    ("interval", "interval"),
    ("baseEjectionTime", "baseEjectionTime"),
    ("maxEjectionPercent", "maxEjectionPercent"),
)


def _upstream_settings(svc: Service) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    pool = svc.connection_pool
    if pool is not None:
        values: dict[str, Any] = {
            "maxConnections": pool.max_connections,
            "http1MaxPendingRequests": pool.http1_max_pending_requests,
            "http2MaxRequests": pool.http2_max_requests,
        }
        limits = {ours: values[spec] for spec, ours in _LIMITS if values[spec] is not None}
        if limits:
            settings["limits"] = limits
    out = svc.outlier_detection
    if out is not None:
        values = {
            "consecutive5xxErrors": out.consecutive_5xx_errors,
            "interval": out.interval,
            "baseEjectionTime": out.base_ejection_time,
            "maxEjectionPercent": out.max_ejection_percent,
        }
        passive = {ours: values[spec] for spec, ours in _PASSIVE if values[spec] is not None}
        if passive:
            settings["passiveHealthCheck"] = passive
    return settings


def _set_fields(svc: Service) -> list[tuple[str, str]]:
    """(feature, spec path) of each upstream setting the service sets."""
    found: list[tuple[str, str]] = []
    pool = svc.connection_pool
    if pool is not None:
        for field, value in (
            ("maxConnections", pool.max_connections),
            ("http1MaxPendingRequests", pool.http1_max_pending_requests),
            ("http2MaxRequests", pool.http2_max_requests),
        ):
            if value is not None:
                found.append(
                    (f"services.connectionPool.{field}", f"{svc.path}.connectionPool.{field}")
                )
    out = svc.outlier_detection
    if out is not None:
        outlier: tuple[tuple[str, object], ...] = (
            ("consecutive5xxErrors", out.consecutive_5xx_errors),
            ("interval", out.interval),
            ("baseEjectionTime", out.base_ejection_time),
            ("maxEjectionPercent", out.max_ejection_percent),
        )
        for field, setting in outlier:
            if setting is not None:
                found.append(
                    (f"services.outlierDetection.{field}", f"{svc.path}.outlierDetection.{field}")
                )
    return found


def upstream_overrides(mesh: Mesh, report: Report) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(caller namespace, caller name) -> the overrides its ServiceDefaults carries."""
    overrides: dict[tuple[str, str], list[dict[str, Any]]] = {}
    declared = {s.name: s for s in mesh.services}
    for svc in mesh.services:
        pool = svc.connection_pool
        if pool is not None and pool.max_requests_per_connection is not None:
            report.lossy(
                "services.connectionPool.maxRequestsPerConnection",
                f"{svc.path}.connectionPool.maxRequestsPerConnection",
                "not rendered",
            )
        settings = _upstream_settings(svc)
        if not settings:
            continue
        who = callers(mesh, svc)
        if who.restricted:
            known = [declared[n] for n in who.names if n in declared]
            complete = len(known) == len(who.names)
        else:
            known, complete = list(mesh.services), False
        for caller in known:
            overrides.setdefault((caller.namespace, caller.name), []).append(
                {"name": svc.name, **settings}
            )
        if not complete:
            rendered = ", ".join(c.name for c in known) or "none"
            for feature, path in _set_fields(svc):
                report.lossy(
                    feature,
                    path,
                    f"rendered in the ServiceDefaults of the callers the "
                    f"spec declares ({rendered}); other callers are not limited",
                )
    return overrides
