"""Istio objects for spec.egress (ServiceEntry), spec.telemetry (Telemetry) and service rate
limits (EnvoyFilter, behind --istio-rate-limit envoyfilter)."""

from __future__ import annotations

from typing import Any

from ...model import Mesh, Service
from ...objects import Obj, metadata, new_object
from .. import Report

_EGRESS_PROTOCOL = {"http": "HTTP", "tls": "TLS"}
# The Telemetry API's version beside each networking/security version Istio serves.
TELEMETRY_API = {"v1": "v1", "v1beta1": "v1alpha1"}
# Istio's built-in providers (pkg/config/mesh/mesh.go, DefaultMeshConfig).
ACCESS_LOG_PROVIDER = "envoy"
METRICS_PROVIDER = "prometheus"
ENVOY_FILTER_API = "networking.istio.io/v1alpha3"


def egress_name(host: str) -> str:
    return f"egress-{host}"


def egress_objects(mesh: Mesh, net: str) -> list[Obj]:
    """A ServiceEntry per external host in each meshed namespace, visible there only."""
    objects = []
    for ns in mesh.namespaces:
        for entry in mesh.egress:
            objects.append(
                new_object(
                    net,
                    "ServiceEntry",
                    metadata(mesh, "ServiceEntry", egress_name(entry.host), ns.name, entry.path),
                    spec={
                        "hosts": [entry.host],
                        "exportTo": ["."],
                        "location": "MESH_EXTERNAL",
                        "ports": [
                            {
                                "number": p.port,
                                "name": f"{p.protocol}-{p.port}",
                                "protocol": _EGRESS_PROTOCOL[p.protocol],
                            }
                            for p in entry.ports
                        ],
                        "resolution": "DNS",
                    },
                )
            )
    return objects


def report_egress(mesh: Mesh, report: Report) -> None:
    if mesh.egress:
        report.lossy(
            "egress.hosts",
            "spec.egress.hosts",
            "rendered as ServiceEntries; other hosts are refused only if "
            "meshConfig.outboundTrafficPolicy.mode is REGISTRY_ONLY",
        )


def telemetry_objects(mesh: Mesh, api: str) -> list[Obj]:
    objects = []
    for t in mesh.telemetry:
        spec: dict[str, Any] = {}
        if t.selector:
            spec["selector"] = {"matchLabels": dict(t.selector)}
        if t.sampling_percent is not None:
            spec["tracing"] = [{"randomSamplingPercentage": t.sampling_percent}]
        if t.access_logging is not None:
            spec["accessLogging"] = [
                {"providers": [{"name": ACCESS_LOG_PROVIDER}]}
                if t.access_logging
                else {"disabled": True}
            ]
        if t.metrics is not None:
            spec["metrics"] = [
                {
                    "providers": [{"name": METRICS_PROVIDER}],
                    "overrides": [{"disabled": not t.metrics}],
                }
            ]
        objects.append(
            new_object(
                f"telemetry.istio.io/{TELEMETRY_API[api]}",
                "Telemetry",
                metadata(mesh, "Telemetry", t.name, t.namespace, t.path),
                spec=spec,
            )
        )
    return objects


def _local_rate_limit(requests_per_second: int) -> dict[str, Any]:
    """Envoy's HTTP local rate limit filter: a bucket of N tokens refilled with N every second
    (envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit); excess requests get 429."""

    def always(key: str) -> dict[str, Any]:
        return {"default_value": {"numerator": 100, "denominator": "HUNDRED"}, "runtime_key": key}

    return {
        "name": "envoy.filters.http.local_ratelimit",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3."
            "LocalRateLimit",
            "stat_prefix": "http_local_rate_limiter",
            "token_bucket": {
                "max_tokens": requests_per_second,
                "tokens_per_fill": requests_per_second,
                "fill_interval": "1s",
            },
            "filter_enabled": always("local_rate_limit_enabled"),
            "filter_enforced": always("local_rate_limit_enforced"),
        },
    }


def rate_limit_objects(mesh: Mesh, svc: Service, option: str, report: Report) -> list[Obj]:
    limit = svc.rate_limit
    if limit is None:
        return []
    if limit.per_caller_requests_per_second is not None:
        report.lossy(
            "services.rateLimit.perCaller",
            f"{limit.path}.perCallerRequestsPerSecond",
            "not rendered",
        )
    if limit.requests_per_second is None:
        return []
    if option != "envoyfilter":
        report.lossy(
            "services.rateLimit",
            f"{limit.path}.requestsPerSecond",
            "not rendered (--istio-rate-limit envoyfilter renders it as an EnvoyFilter)",
        )
        return []
    report.warning(
        f"{limit.path}.requestsPerSecond",
        "rendered as an EnvoyFilter, as --istio-rate-limit envoyfilter asks: it acts "
        "on sidecars only (not on waypoints) and depends on Envoy's configuration, "
        "which may change between Istio versions",
    )
    http_ports = [p for p in svc.ports if p.protocol != "tcp"]
    patches = []
    for port in http_ports:
        listener: dict[str, Any] = {
            "filterChain": {"filter": {"name": "envoy.filters.network.http_connection_manager"}}
        }
        if isinstance(port.target_port, int):
            # The inbound listener's filter chain for the port the workload receives on.
            listener = {"portNumber": port.target_port, **listener}
        patches.append(
            {
                "applyTo": "HTTP_FILTER",
                "match": {"context": "SIDECAR_INBOUND", "listener": listener},
                # First in the HTTP filter chain: an absolute position, which applies whatever
                # other filters are there (a relative one may not, istioctl's IST0151).
                "patch": {
                    "operation": "INSERT_FIRST",
                    "value": _local_rate_limit(limit.requests_per_second),
                },
            }
        )
    unique = [p for i, p in enumerate(patches) if p not in patches[:i]]
    return [
        new_object(
            ENVOY_FILTER_API,
            "EnvoyFilter",
            metadata(mesh, "EnvoyFilter", f"{svc.name}-rate-limit", svc.namespace, limit.path),
            spec={"workloadSelector": {"labels": dict(svc.selector)}, "configPatches": unique},
        )
    ]
