"""What a service's own proxies do to the requests they receive: fault injection
(MeshFaultInjection) and a local rate limit (MeshRateLimit).

Both are inbound policies: the top-level targetRef selects the service's pods
(kind Dataplane, by their labels, as the MeshTrafficPermission does) and
``rules`` holds the conf for every caller. Kuma puts Envoy's fault filter and
local_ratelimit filter on each inbound listener of the selected proxies
(pkg/plugins/policies/meshfaultinjection/plugin/v1alpha1,
pkg/plugins/policies/meshratelimit/plugin/v1alpha1 at v2.14.3), so they act on
every request a pod receives on an HTTP port, whichever route sent it.
"""

from __future__ import annotations

from typing import Any

from ...model import Mesh, Service
from ...objects import Obj, new_object
from .. import Report
from .common import API, policy_metadata
from .routing import percentage


def _inbound_policy(mesh: Mesh, svc: Service, kind: str, path: str, conf: dict[str, Any]) -> Obj:
    return new_object(
        API,
        kind,
        policy_metadata(mesh, kind, svc.name, svc.namespace, path),
        spec={
            "targetRef": {"kind": "Dataplane", "labels": dict(svc.selector)},
            "rules": [{"default": conf}],
        },
    )


def fault_injection(mesh: Mesh, svc: Service, report: Report) -> Obj | None:
    faults = [r.fault for r in svc.routes if r.fault is not None]
    if not faults:
        return None
    # Exact only where the route's requests are every request of the service: one route,
    # without a match.
    whole = len(svc.routes) == 1 and not svc.routes[0].matches
    fault = faults[0]
    if not whole:
        for f in faults:
            for part in ("delay", "abort"):
                if getattr(f, part) is not None:
                    report.lossy(
                        f"services.routes.fault.{part}",
                        f"{f.path}.{part}",
                        "not rendered: Kuma injects faults into every request a "
                        "service receives, not into one route's",
                    )
        return None
    conf: dict[str, Any] = {}
    if fault.delay is not None:
        conf["delay"] = {"value": fault.delay.fixed, "percentage": percentage(fault.delay.percent)}
    abort = fault.abort
    if abort is not None and abort.http_status is None:
        report.lossy(
            "services.routes.fault.abort",
            f"{fault.path}.abort.grpcStatus",
            "not rendered: MeshFaultInjection aborts with an HTTP status",
        )
    elif abort is not None:
        conf["abort"] = {"httpStatus": abort.http_status, "percentage": percentage(abort.percent)}
    if not conf:
        return None
    return _inbound_policy(mesh, svc, "MeshFaultInjection", fault.path, {"http": [conf]})


def rate_limit(mesh: Mesh, svc: Service, report: Report) -> Obj | None:
    limit = svc.rate_limit
    if limit is None:
        return None
    if limit.per_caller_requests_per_second is not None:
        report.lossy(
            "services.rateLimit.perCaller",
            f"{limit.path}.perCallerRequestsPerSecond",
            "not rendered",
        )
    if limit.requests_per_second is None:
        return None
    # Envoy's local rate limit answers 429 when the bucket is empty (Kuma's
    # onRateLimit.status default).
    return _inbound_policy(
        mesh,
        svc,
        "MeshRateLimit",
        limit.path,
        {"local": {"http": {"requestRate": {"num": limit.requests_per_second, "interval": "1s"}}}},
    )
