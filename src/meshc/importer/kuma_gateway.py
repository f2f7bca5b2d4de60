"""Kuma's builtin gateway back into spec.ingress: the inverse of
:mod:`meshc.compiler.targets.kuma.ingress`.

A MeshGatewayInstance ``<gateway namespace>/<name>`` runs the gateway (its pods' service
account is the gateway's); the MeshGateway that selects its proxies' kuma.io/service
(``<name>_<gateway namespace>_svc``) is ``<name>-<namespace>``, the entry's namespace
after the name, and its listeners are the spec's listeners, one per host, named by their
``meshc.io/listener`` tag. The MeshHTTPRoutes that target it are the entry's routes:
``<name>-<namespace>`` holds the routes without a timeout, and
``<name>-<namespace>-route-<index>`` the route at that index, whose timeout is the
MeshTimeout of the same name.
"""

from __future__ import annotations

import re
from typing import Any

from meshc.compiler.targets.kuma.ingress import LISTENER_TAG, REPLICAS, SERVICE_TYPE
from meshc.providers.kuma import SERVICE_TAG, gateway_service_tag

from .draft import Draft, Part, Source, origin
from .gatewayapi import filters as gateway_filters
from .inventory import Inventory
from .kuma import GROUP, _matches, _timeout

# What the importer learnt of the gateways: their kuma.io/service tag -> the services
# (namespace, name) their routes send to, which the backends' permissions admit.
GatewayCallers = dict[str, set[tuple[str, str]]]


def _instance(draft: Draft, src: Source) -> Part:
    spec = src.spec
    pod = (spec.get("podTemplate") or {}).get("spec") or {}
    account = pod.get("serviceAccountName")
    for key, value, expected in (
        ("replicas", spec.get("replicas", REPLICAS), REPLICAS),
        ("serviceType", spec.get("serviceType", SERVICE_TYPE), SERVICE_TYPE),
    ):
        if value != expected:
            draft.lose(src, f"spec.{key}", f"the spec's gateway is {key} {expected}; not imported")
    for key in sorted(set(spec) - {"replicas", "serviceType", "podTemplate"}):
        draft.lose(src, f"spec.{key}", "not a spec setting of an ingress gateway; not imported")
    if account is None:
        draft.lose(
            src,
            "spec.podTemplate.spec.serviceAccountName",
            "absent: the pods run as the namespace's default service account, imported so",
        )
    return {"namespace": draft.namespace_of(src), "serviceAccount": str(account or "default")}


def _listeners(draft: Draft, src: Source, raw: list[Any]) -> list[Part]:
    out: list[Part] = []
    for i, listener in enumerate(raw):
        path = f"spec.conf.listeners[{i}]"
        protocol = str(listener.get("protocol", ""))
        tags = listener.get("tags") or {}
        name = str(tags.get(LISTENER_TAG) or f"{protocol.lower()}-{listener.get('port')}")
        if protocol not in ("HTTP", "HTTPS") or set(tags) - {LISTENER_TAG}:
            draft.lose(
                src,
                path,
                "the spec's listeners are HTTP or HTTPS, named by their meshc.io/listener "
                "tag alone; not imported",
            )
            continue
        host = str(listener.get("hostname") or "*")
        part: Part = {"name": name, "port": listener.get("port"), "protocol": protocol}
        tls = listener.get("tls")
        if protocol == "HTTPS":
            certs = (tls or {}).get("certificates") or []
            if (
                (tls or {}).get("mode") != "TERMINATE"
                or len(certs) != 1
                or "secret" not in certs[0]
            ):
                draft.lose(
                    src,
                    f"{path}.tls",
                    "the spec's HTTPS listeners terminate TLS with one certificate "
                    "Secret; not imported",
                )
                continue
            part["tls"] = {"secretName": str(certs[0]["secret"])}
        same = next((p for p in out if p["name"] == name), None)
        if same is not None and {k: v for k, v in same.items() if k != "hosts"} == part:
            same["hosts"].append(host)
        elif same is not None:
            draft.lose(src, path, f"a second listener {name!r} unlike the first; not imported")
        else:
            out.append({**part, "hosts": [host]})
    return out


def _gateway(
    draft: Draft, src: Source, instances: dict[str, tuple[Source, str, Part]]
) -> Part | None:
    selectors = src.spec.get("selectors") or []
    tags = [((s or {}).get("match") or {}) for s in selectors]
    found = instances.get(str(tags[0].get(SERVICE_TAG))) if len(tags) == 1 else None
    if found is None or set(tags[0]) != {SERVICE_TAG}:
        draft.lose(
            src,
            "spec.selectors",
            "the spec's gateway is the proxies of one MeshGatewayInstance of the input, "
            "selected by their kuma.io/service; not imported",
        )
        return None
    _, name, gateway = found
    for key in sorted(set(src.spec) - {"selectors", "conf"}):
        draft.lose(src, f"spec.{key}", "not a spec setting of an ingress gateway; not imported")
    namespace = src.name.removeprefix(f"{name}-")
    if namespace == src.name or not namespace:
        draft.lose(
            src,
            "metadata.name",
            f"the spec's MeshGateway is <name>-<namespace> ({name}-...); imported in "
            f"{gateway['namespace']}",
        )
        namespace = gateway["namespace"]
    entry: Part = {
        "name": name,
        "namespace": namespace,
        "gateway": dict(gateway),
        "listeners": _listeners(draft, src, (src.spec.get("conf") or {}).get("listeners") or []),
        "routes": [],
    }
    origin(entry, src)
    return entry


def _backend(
    draft: Draft, src: Source, path: str, refs: list[Any], entry: Part, callers: GatewayCallers
) -> Part | None:
    ref = refs[0] if len(refs) == 1 else {}
    ns = str(ref.get("namespace") or "")
    svc = draft.service(ns, str(ref.get("name"))) if ref.get("kind") == "MeshService" else None
    if svc is None or "port" not in ref:
        draft.lose(
            src,
            path,
            "an ingress route goes to one port of one MeshService of the input; not imported",
        )
        return None
    backend: Part = {"service": svc["name"], "port": ref["port"]}
    if ns != entry["namespace"]:
        backend["namespace"] = ns
    tag = gateway_service_tag(entry["name"], entry["gateway"]["namespace"])
    callers.setdefault(tag, set()).add((ns, svc["name"]))
    return backend


def _rule(
    draft: Draft, src: Source, path: str, rule: Any, entry: Part, callers: GatewayCallers
) -> Part | None:
    route: Part = {}
    origin(route, src, path)
    default = rule.get("default") or {}
    refs = default.get("backendRefs") or []
    first = refs[0] if refs else {}
    owner = draft.service(str(first.get("namespace")), str(first.get("name")))
    # A gRPC method is a path match on a backend whose ports are all gRPC (as on a route).
    grpc = owner is not None and all(p.get("protocol") == "grpc" for p in owner["ports"])
    found = _matches(draft, src, path, rule.get("matches") or [], grpc)
    if found is None:
        return None
    if len(found) == 1:
        route["match"] = found[0]
    elif found:
        route["matches"] = found
    for key in sorted(set(default) - {"filters", "backendRefs"}):
        draft.lose(src, f"{path}.default.{key}", "not a spec setting; the rule is not imported")
        return None
    if not gateway_filters(draft, src, f"{path}.default", default.get("filters") or [], route):
        return None
    if "redirect" in route:
        return route
    backend = _backend(draft, src, f"{path}.default.backendRefs", refs, entry, callers)
    if backend is None:
        return None
    route["backend"] = backend
    return route


def _routes_of(
    draft: Draft,
    src: Source,
    entry: Part,
    callers: GatewayCallers,
) -> list[Part]:
    to = src.spec.get("to") or []
    if len(to) != 1 or to[0].get("targetRef") != {"kind": "Mesh"} or "hostnames" in to[0]:
        draft.lose(
            src,
            "spec.to",
            "the spec's ingress routes take every host of the gateway's listeners "
            "(one entry, kind Mesh, no hostnames); not imported",
        )
        return []
    return [
        r
        for i, rule in enumerate(to[0].get("rules") or [])
        if (r := _rule(draft, src, f"spec.to[0].rules[{i}]", rule, entry, callers)) is not None
    ]


def _timeouts(draft: Draft, inv: Inventory) -> dict[str, str]:
    """The request timeout each gateway route's MeshTimeout (named after the route) gives."""
    out: dict[str, str] = {}
    for src in inv.kind("MeshTimeout", GROUP):
        ref = src.spec.get("targetRef") or {}
        if ref.get("kind") != "MeshHTTPRoute":
            continue
        with draft.guard(src):
            to = src.spec.get("to") or []
            if len(to) != 1 or to[0].get("targetRef") != {"kind": "Mesh"}:
                draft.lose(src, "spec.to", "a gateway route's timeout is one for every request")
                continue
            timeout = _timeout(draft, src, "spec.to[0]", to[0].get("default"))
            if timeout is not None and ref.get("name") == src.name:
                out[src.name] = timeout
            elif timeout is not None:
                draft.lose(src, "spec.targetRef.name", "names another route than its own")
            draft.imported += 1
    return out


def import_gateways(inv: Inventory, draft: Draft) -> GatewayCallers:
    """spec.ingress from MeshGatewayInstances, MeshGateways and the MeshHTTPRoutes and
    MeshTimeouts that target them; the gateways' tags with the services they call."""
    callers: GatewayCallers = {}
    instances: dict[str, tuple[Source, str, Part]] = {}
    for src in inv.kind("MeshGatewayInstance", GROUP):
        with draft.guard(src):
            gateway = _instance(draft, src)
            tag = gateway_service_tag(src.name, gateway["namespace"])
            instances[tag] = (src, src.name, gateway)
            draft.imported += 1
    entries: dict[str, Part] = {}
    for src in inv.kind("MeshGateway", GROUP):
        with draft.guard(src):
            entry = _gateway(draft, src, instances)
            if entry is not None:
                entries[src.name] = entry
    timeouts = _timeouts(draft, inv)
    placed: dict[str, list[tuple[int | None, list[Part]]]] = {}
    for src in inv.kind("MeshHTTPRoute", GROUP):
        ref = src.spec.get("targetRef") or {}
        if ref.get("kind") != "MeshGateway":
            continue
        with draft.guard(src):
            gw = str(ref.get("name"))
            if gw not in entries:
                draft.lose(src, "spec.targetRef", f"MeshGateway {gw} is not in the input")
                continue
            routes = _routes_of(draft, src, entries[gw], callers)
            own = re.fullmatch(rf"{re.escape(gw)}-route-(\d+)", src.name)
            if own is not None and len(routes) == 1 and src.name in timeouts:
                routes[0]["timeout"] = timeouts[src.name]
                placed.setdefault(gw, []).append((int(own[1]), routes))
            elif src.name == gw:
                placed.setdefault(gw, []).append((None, routes))
            else:
                draft.lose(
                    src,
                    "metadata.name",
                    f"the spec's gateway routes are {gw} and {gw}-route-<index> "
                    "(a route with its own timeout); imported after the others",
                )
                placed.setdefault(gw, []).append((None, routes))
            draft.imported += 1
    for gw, entry in entries.items():
        ordered = [r for index, routes in placed.get(gw, []) if index is None for r in routes]
        for index, routes in sorted(
            ((i, r) for i, r in placed.get(gw, []) if i is not None), key=lambda p: p[0]
        ):
            ordered[index:index] = routes
        entry["routes"] = ordered
        if ordered and entry["listeners"]:
            draft.ingress[(entry["namespace"], entry["name"])] = entry
            draft.imported += 1
        else:
            draft.lose(
                instances[gateway_service_tag(entry["name"], entry["gateway"]["namespace"])][0],
                "",
                "a gateway without listeners or routes the spec can say; not imported",
            )
    return callers
