"""A service's routes as one MeshHTTPRoute whose rules send weighted shares of the
requests to the MeshServices of the versions' own Services.

Kuma 2.14 recommends backendRefs of kind MeshService with a port (the
MeshServices Kuma derives from Services); MeshServiceSubset, which selects
endpoints of one service by tags, is deprecated and is removed in Kuma 3.0.
Sources: pkg/plugins/policies/meshhttproute/api/v1alpha1 (meshhttproute.go,
validation.go) at v2.14.3.
"""

from __future__ import annotations

import re
from typing import Any

from ...model import Mesh, Port, Route, Service, StringMatch
from ...objects import Obj, new_object
from .. import Report
from .common import API, mesh_service, policy_metadata, version_service


def _path_match(m: StringMatch) -> dict[str, str]:
    if m.kind == "exact":
        return {"type": "Exact", "value": m.value}
    if m.kind == "prefix" and m.value == "/":
        return {"type": "PathPrefix", "value": "/"}
    if m.kind == "prefix":
        # Kuma's PathPrefix matches whole path segments (/api does not match /apis);
        # the spec's prefix is a string prefix, which a regex says exactly. Envoy's
        # safe_regex matches the whole path.
        return {"type": "RegularExpression", "value": f"{re.escape(m.value)}.*"}
    return {"type": "RegularExpression", "value": m.value}


def _header_match(name: str, m: StringMatch) -> dict[str, str]:
    kind = {"exact": "Exact", "prefix": "Prefix", "regex": "RegularExpression"}[m.kind]
    return {"type": kind, "name": name, "value": m.value}


def _rule(svc: Service, route: Route, port: Port) -> dict[str, Any]:
    match: dict[str, Any] = {}
    if route.match is not None and route.match.path is not None:
        match["path"] = _path_match(route.match.path)
    if route.match is not None and route.match.headers:
        match["headers"] = [_header_match(h, m) for h, m in route.match.headers]
    if not match:
        # The default route: Kuma's rules need a match; every path starts with /.
        match["path"] = {"type": "PathPrefix", "value": "/"}
    backends = [
        {"kind": "MeshService", "name": version_service(svc, version), "port": port.port,
         "weight": weight}
        for version, weight in route.split
    ]
    return {"matches": [match], "default": {"backendRefs": backends}}


def http_route(mesh: Mesh, svc: Service, report: Report) -> Obj | None:
    if not svc.routes:
        return None
    for route in svc.routes:
        if route.name:
            report.lossy("services.routes.name", f"{route.path}.name",
                         f"{route.name!r} is not rendered")
    if any(r.match is not None for r in svc.routes):
        report.lossy("services.routes.order", f"{svc.path}.routes",
                     "rules are rendered in spec order; Kuma orders them by specificity")
    # MeshHTTPRoute steers HTTP requests; an opaque TCP port has none to steer.
    ports = [p for p in svc.ports if p.protocol != "tcp"]
    several = len(svc.ports) > 1
    to = [
        {
            "targetRef": mesh_service(svc.name, p.name if several else None),
            "rules": [_rule(svc, route, p) for route in svc.routes],
        }
        for p in ports
    ]
    return new_object(
        API, "MeshHTTPRoute",
        policy_metadata(mesh, "MeshHTTPRoute", svc.name, svc.namespace, f"{svc.path}.routes"),
        spec={"to": to},
    )
