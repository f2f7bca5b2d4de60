"""Timeouts, retries, connection limits and outlier detection: MeshTimeout, MeshRetry
and MeshCircuitBreaker, each naming in ``spec.to`` the MeshServices whose clusters
carry the service's traffic (the service's own and every version's).

Sources at v2.14.3: pkg/plugins/policies/{meshtimeout,meshretry,meshcircuitbreaker}
(api/v1alpha1 for the fields, plugin/ for what Envoy gets). The spec's
durations are Go durations, which Kuma's fields (metav1.Duration) take as they are.
"""

from __future__ import annotations

import copy
from typing import Any

from ...model import Mesh, Retries, Service
from ...objects import Obj, new_object
from .. import Report, gives_no_retries, report_retried_by_default
from .common import API, destinations, policy_metadata
from .routing import has_own_policy, route_name

# The spec's retry conditions as MeshRetry spells them (HTTPRetryOn; each is the
# Envoy condition of the same name, as Istio's are).
RETRY_ON = {
    "5xx": "5XX",
    "gateway-error": "GatewayError",
    "reset": "Reset",
    "connect-failure": "ConnectFailure",
    "retriable-4xx": "Retriable4xx",
    "refused-stream": "RefusedStream",
}
# The spec's gRPC statuses as MeshRetry's grpc.retryOn spells them (GRPCRetryOn, which
# GrpcRetryOnEnumToEnvoyValue turns into Envoy's conditions of the same name).
GRPC_RETRY_ON = {
    "cancelled": "Canceled",
    "deadline-exceeded": "DeadlineExceeded",
    "internal": "Internal",
    "resource-exhausted": "ResourceExhausted",
    "unavailable": "Unavailable",
}
_TRANSPORT = ("reset", "connect-failure", "refused-stream")
# Envoy's default for consecutive_5xx, and Istio's for consecutive5xxErrors.
_DEFAULT_CONSECUTIVE_5XX = 5


def _policy(mesh: Mesh, svc: Service, kind: str, path: str, conf: dict[str, Any]) -> Obj:
    return new_object(
        API,
        kind,
        policy_metadata(mesh, kind, svc.name, svc.namespace, path),
        spec={
            "to": [{"targetRef": ref, "default": copy.deepcopy(conf)} for ref in destinations(svc)]
        },
    )


def _route_policy(
    mesh: Mesh, svc: Service, kind: str, name: str, path: str, conf: dict[str, Any]
) -> Obj:
    # A MeshHTTPRoute in ``to``: the conf applies to the Envoy routes of that
    # MeshHTTPRoute's rules, before the service's (see routing.py).
    return new_object(
        API,
        kind,
        policy_metadata(mesh, kind, name, svc.namespace, path),
        spec={"to": [{"targetRef": {"kind": "MeshHTTPRoute", "name": name}, "default": conf}]},
    )


def timeout(mesh: Mesh, svc: Service) -> Obj | None:
    if svc.timeout is None:
        return None
    # http.requestTimeout is Envoy's route timeout: the whole request, retries included.
    return _policy(
        mesh, svc, "MeshTimeout", f"{svc.path}.timeout", {"http": {"requestTimeout": svc.timeout}}
    )


def _retry_conf(svc: Service, retries: Retries, path: str, report: Report) -> dict[str, Any]:
    """MeshRetry's conf: ``http`` for HTTP ports and ``grpc`` for gRPC ports; Kuma reads
    one or the other by the port's protocol (plugin/xds/configurer.go, GetRouteRetryConfig)."""
    conditions = retries.retry_on or ("5xx",)  # the spec's default, as on Linkerd
    base: dict[str, Any] = {"numRetries": retries.attempts}
    if retries.per_try_timeout is not None:
        base["perTryTimeout"] = retries.per_try_timeout
    grpc_ports = any(p.protocol == "grpc" for p in svc.ports)
    http_ports = any(p.protocol == "http" for p in svc.ports)
    if retries.attempts and any(p.protocol == "http2" for p in svc.ports):
        # GetRouteRetryConfig knows the protocols http and grpc; a MeshService port of
        # appProtocol http2 gets no retry policy from MeshRetry.
        report.lossy(
            "services.retries.attempts",
            f"{path}.attempts",
            "HTTP/2 ports are not retried: MeshRetry configures http and grpc ports only",
        )
    conf: dict[str, Any] = {}
    if http_ports:
        http_on = [RETRY_ON[c] for c in conditions if c in RETRY_ON]
        # Kuma's own default conditions apply when retryOn is left out, so an HTTP port
        # without one of the spec's conditions is not retried.
        conf["http"] = {**base, "retryOn": http_on} if http_on else {"numRetries": 0}
        for i, c in enumerate(retries.retry_on):
            if c in GRPC_RETRY_ON:
                report.lossy(
                    "services.retries.retryOn.grpc",
                    f"{path}.retryOn[{i}]",
                    f"{c!r} is rendered for gRPC ports only"
                    if grpc_ports
                    else f"{c!r} was not rendered: MeshRetry takes gRPC "
                    "statuses for grpc ports only",
                )
    if grpc_ports:
        grpc_on = [GRPC_RETRY_ON[c] for c in conditions if c in GRPC_RETRY_ON]
        conf["grpc"] = {**base, "retryOn": grpc_on} if grpc_on else dict(base)
        for i, c in enumerate(conditions):
            if c in RETRY_ON:
                feature = (
                    "services.retries.retryOn.transport"
                    if c in _TRANSPORT
                    else "services.retries.retryOn"
                )
                where = f"{path}.retryOn[{i}]" if retries.retry_on else f"{path}.retryOn"
                report.lossy(
                    feature,
                    where,
                    f"{c!r} is rendered for HTTP ports only; gRPC ports retry on "
                    + ("the spec's gRPC statuses" if grpc_on else "Kuma's default gRPC conditions"),
                )
    return conf


def retry(mesh: Mesh, svc: Service, report: Report) -> Obj | None:
    retries = svc.retries
    if retries is None:
        return None
    path = f"{svc.path}.retries"
    conf = _retry_conf(svc, retries, path, report)
    return _policy(mesh, svc, "MeshRetry", path, conf) if conf else None


def route_policies(mesh: Mesh, svc: Service, report: Report) -> list[Obj]:
    """The MeshTimeout and MeshRetry of each route with its own timeout or retries, naming
    the route's own MeshHTTPRoute."""
    out: list[Obj] = []
    if not any(p.protocol != "tcp" for p in svc.ports):
        return out
    for i, route in enumerate(svc.routes):
        if not has_own_policy(route):
            continue
        name = route_name(svc, route, i)
        if route.timeout is not None:
            out.append(
                _route_policy(
                    mesh,
                    svc,
                    "MeshTimeout",
                    name,
                    f"{route.path}.timeout",
                    {"http": {"requestTimeout": route.timeout}},
                )
            )
        if route.retries is not None:
            path = f"{route.path}.retries"
            conf = _retry_conf(svc, route.retries, path, report)
            if conf:
                out.append(_route_policy(mesh, svc, "MeshRetry", name, path, conf))
    return out


def report_default_retries(mesh: Mesh, report: Report) -> None:
    """One warning for the services Kuma's mesh-wide MeshRetry retries though the spec gives
    them no retries (pkg/defaults/mesh/meshretry.go: created with every Mesh)."""
    report_retried_by_default(
        report,
        [s for s in mesh.services if gives_no_retries(s)],
        "Kuma's default MeshRetry",
        "up to 5 retries of HTTP and gRPC requests, 5 attempts to connect over TCP",
    )


def circuit_breaker(mesh: Mesh, svc: Service, report: Report) -> Obj | None:
    pool, out = svc.connection_pool, svc.outlier_detection
    conf: dict[str, Any] = {}
    if pool is not None:
        limits = {
            key: value
            for key, value in (
                ("maxConnections", pool.max_connections),
                ("maxPendingRequests", pool.http1_max_pending_requests),
                ("maxRequests", pool.http2_max_requests),
            )
            if value is not None
        }
        if pool.max_requests_per_connection is not None:
            report.lossy(
                "services.connectionPool.maxRequestsPerConnection",
                f"{svc.path}.connectionPool.maxRequestsPerConnection",
                "not rendered",
            )
        if limits:
            conf["connectionLimits"] = limits
    if out is not None:
        detection: dict[str, Any] = {"disabled": False}
        for key, value in (
            ("interval", out.interval),
            ("baseEjectionTime", out.base_ejection_time),
            ("maxEjectionPercent", out.max_ejection_percent),
        ):
            if value is not None:
                detection[key] = value
        # totalFailures is Envoy's consecutive_5xx (plugin/xds/configurer.go,
        # configureTotalFailures): 5xx responses and locally originated failures
        # alike, as Istio's consecutive5xxErrors. gatewayFailures would count
        # 502-504 only.
        consecutive = out.consecutive_5xx_errors or _DEFAULT_CONSECUTIVE_5XX
        detection["detectors"] = {"totalFailures": {"consecutive": consecutive}}
        conf["outlierDetection"] = detection
    if not conf:
        return None
    return _policy(mesh, svc, "MeshCircuitBreaker", svc.path, conf)
