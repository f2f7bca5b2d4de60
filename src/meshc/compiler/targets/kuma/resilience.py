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

from ...model import Mesh, Service
from ...objects import Obj, new_object
from .. import Report
from .common import API, destinations, policy_metadata

# The spec's retry conditions as MeshRetry spells them (HTTPRetryOn; each is the
# Envoy condition of the same name, as Istio's are).
_RETRY_ON = {
    "5xx": "5XX", "gateway-error": "GatewayError", "reset": "Reset",
    "connect-failure": "ConnectFailure", "retriable-4xx": "Retriable4xx",
    "refused-stream": "RefusedStream",
}
# Envoy's default for consecutive_5xx, and Istio's for consecutive5xxErrors.
_DEFAULT_CONSECUTIVE_5XX = 5


def _policy(mesh: Mesh, svc: Service, kind: str, path: str, conf: dict[str, Any]) -> Obj:
    return new_object(
        API, kind, policy_metadata(mesh, kind, svc.name, svc.namespace, path),
        spec={"to": [{"targetRef": ref, "default": copy.deepcopy(conf)}
                     for ref in destinations(svc)]},
    )


def timeout(mesh: Mesh, svc: Service) -> Obj | None:
    if svc.timeout is None:
        return None
    # http.requestTimeout is Envoy's route timeout: the whole request, retries included.
    return _policy(mesh, svc, "MeshTimeout", f"{svc.path}.timeout",
                   {"http": {"requestTimeout": svc.timeout}})


def retry(mesh: Mesh, svc: Service, report: Report) -> Obj | None:
    retries = svc.retries
    if retries is None:
        return None
    path = f"{svc.path}.retries"
    http: dict[str, Any] = {"numRetries": retries.attempts}
    if retries.per_try_timeout is not None:
        http["perTryTimeout"] = retries.per_try_timeout
    # The spec's default condition is 5xx (as on Linkerd); Kuma's own default
    # differs, so the condition is always written.
    http["retryOn"] = [_RETRY_ON[c] for c in retries.retry_on] or ["5XX"]
    conf: dict[str, Any] = {"http": http}
    if any(p.protocol == "grpc" for p in svc.ports):
        grpc = {k: v for k, v in http.items() if k != "retryOn"}
        conf["grpc"] = grpc
        if retries.retry_on:
            report.lossy("services.retries.retryOn", f"{path}.retryOn",
                         "rendered for the HTTP ports; gRPC ports retry on Kuma's default "
                         "gRPC status codes")
    return _policy(mesh, svc, "MeshRetry", path, conf)


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
            report.lossy("services.connectionPool.maxRequestsPerConnection",
                         f"{svc.path}.connectionPool.maxRequestsPerConnection", "not rendered")
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
