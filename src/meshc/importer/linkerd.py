"""Linkerd's configuration: the namespace's inbound policy and access log, the retry,
timeout and failure-accrual annotations of Services, Server / AuthorizationPolicy /
MeshTLSAuthentication (who may call), HTTPLocalRateLimitPolicy, ServiceProfile and SMI
TrafficSplit; its HTTPRoutes (both API groups) are read by :mod:`.gatewayapi`.

A version is Linkerd's way too: a Service ``<service>-<version>`` whose selector adds
the version's labels to the service's (the quickstart's, and what meshc renders).
"""

from __future__ import annotations

import re
from typing import Any

from meshc.compiler.targets.linkerd import ACCRUAL
from meshc.compiler.targets.linkerd.edge import ACCESS_LOG
from meshc.providers import CLUSTER_DOMAIN
from meshc.providers.linkerd import INBOUND_POLICY_ANNOTATION, PROFILE, STRICT_INBOUND_POLICY

from .draft import Draft, Part, Source, origin
from .gatewayapi import annotation_policy
from .inventory import Inventory, pod_labels, pod_spec

NAME = PROFILE.name
POLICY, SMI = PROFILE.config_groups
SERVICE_PROFILE_GROUP = PROFILE.config_kinds[0][0]
_IDENTITY = re.compile(
    r"^(?P<sa>[^.]+)\.(?P<ns>[^.]+)\.serviceaccount\.identity\.linkerd\."
    r"(?P<td>.+)$"
)
_INBOUND = {STRICT_INBOUND_POLICY: "STRICT", "all-unauthenticated": "PERMISSIVE"}
_FAILURE_CLASSES: dict[tuple[Any, Any], str] = {
    (500, 599): "5xx",
    (502, 504): "gateway-error",
    (409, 409): "retriable-4xx",
}


def versions(inv: Inventory, draft: Draft) -> None:
    """Services ``<service>-<version>`` selecting a subset of ``<service>``'s pods become
    versions of it."""
    for (ns, name), part in list(draft.services.items()):
        base_name, _, version = name.rpartition("-")
        base = draft.service(ns, base_name) if base_name else None
        if base is None or base is part:
            continue
        extra = {k: v for k, v in part["selector"].items() if base["selector"].get(k) != v}
        if not extra or any(k in extra for k in base["selector"]):
            continue
        if [(p["port"], p["targetPort"]) for p in part["ports"]] != [
            (p["port"], p["targetPort"]) for p in base["ports"]
        ]:
            continue
        del draft.services[(ns, name)]
        base["_routed"] = True  # a Service per version: Gateway API routing (see finish)
        entry = {"name": version, "labels": extra, "__from__": part["__from__"]}
        if not any(v["name"] == version for v in base.get("versions", [])):
            base.setdefault("versions", []).append(entry)


def _namespaces(draft: Draft) -> None:
    for ns, part in draft.namespaces.items():
        annotations = part.get("annotations", {})
        policy = annotations.pop(INBOUND_POLICY_ANNOTATION, None)
        where = part["__from__"][0]
        if policy is not None:
            mode = _INBOUND.get(policy)
            if mode is None:
                draft.findings.append(
                    _finding(
                        where,
                        ns,
                        INBOUND_POLICY_ANNOTATION,
                        f"{policy}: the spec's mTLS is STRICT (all-authenticated) or PERMISSIVE",
                    )
                )
            else:
                draft.mtls.append((mode, ns, where))
        elif part.get("_marker") and part["_marker"][0] == NAME:
            draft.mtls.append(("PERMISSIVE", ns, where))  # Linkerd's default policy
        log = annotations.pop(ACCESS_LOG, None)
        if log == "json":
            draft.telemetry[(ns, ns)] = {
                "name": ns,
                "namespace": ns,
                "accessLogging": {"enabled": True},
                "__from__": [where],
            }
        elif log is not None:
            annotations[ACCESS_LOG] = log
            draft.findings.append(
                _finding(
                    where, ns, ACCESS_LOG, f"{log}: the spec's access log is Linkerd's JSON one"
                )
            )
        if not annotations:
            part.pop("annotations", None)


def _finding(where: str, ns: str, path: str, why: str) -> Any:
    from .draft import Finding

    return Finding(where, f"Namespace {ns}", path, why)


def _service_annotations(draft: Draft) -> None:
    for svc in draft.services.values():
        annotations = svc.get("_annotations")
        if not annotations:
            continue
        timeout, retries, used = annotation_policy(annotations)
        if timeout is not None:
            svc["timeout"] = timeout
        if retries is not None:
            svc["retries"] = retries
        if annotations.get(ACCRUAL) == "consecutive":
            used.append(ACCRUAL)
            outlier: Part = {}
            if annotations.get(f"{ACCRUAL}-consecutive-max-failures", "").isdigit():
                outlier["consecutive5xxErrors"] = int(
                    annotations[f"{ACCRUAL}-consecutive-max-failures"]
                )
                used.append(f"{ACCRUAL}-consecutive-max-failures")
            if f"{ACCRUAL}-consecutive-min-penalty" in annotations:
                outlier["baseEjectionTime"] = annotations[f"{ACCRUAL}-consecutive-min-penalty"]
                used.append(f"{ACCRUAL}-consecutive-min-penalty")
            svc["outlierDetection"] = outlier
        for key in used:
            del annotations[key]
        if used:
            draft.provider_votes[NAME] += 1


# --- who may call ---------------------------------------------------------------------------


def _identity(draft: Draft, text: str) -> tuple[str, str] | None:
    m = _IDENTITY.match(text)
    if m is None:
        return None
    if draft.trust_domain is None:
        draft.trust_domain = m["td"]
    return (m["ns"], m["sa"]) if m["td"] == draft.trust_domain else None


def _server_ports(inv: Inventory, src: Source, svc: Part) -> list[int]:
    """The Service ports whose target port the Server's port is."""
    port = src.spec.get("port")
    if isinstance(port, str):
        numbers = set()
        for w in inv.workloads():
            if not all(pod_labels(w).get(k) == v for k, v in svc["selector"].items()):
                continue
            containers = pod_spec(w).get("containers")
            for container in containers if isinstance(containers, list) else []:
                for named in container.get("ports") or [] if isinstance(container, dict) else []:
                    if isinstance(named, dict) and named.get("name") == port:
                        numbers.add(named.get("containerPort"))
        return [
            p["port"] for p in svc["ports"] if p["targetPort"] == port or p["targetPort"] in numbers
        ]
    return [p["port"] for p in svc["ports"] if p["targetPort"] == port]


def _authentications(
    draft: Draft, inv: Inventory, src: Source, ns: str
) -> list[tuple[str, str]] | None:
    """The (namespace, service account) the AuthorizationPolicy admits ("*": every one)."""
    found: list[tuple[str, str]] = []
    for j, ref in enumerate(src.spec.get("requiredAuthenticationRefs") or []):
        kind, name = ref.get("kind"), str(ref.get("name"))
        if kind == "ServiceAccount":
            found.append((str(ref.get("namespace") or ns), name))
            continue
        if kind != "MeshTLSAuthentication":
            draft.lose(
                src,
                f"spec.requiredAuthenticationRefs[{j}]",
                f"a {kind}: the spec admits meshed callers by identity; not imported",
            )
            return None
        mta = next(
            (
                m
                for m in inv.kind("MeshTLSAuthentication", POLICY)
                if m.name == name and draft.namespace_of(m) == str(ref.get("namespace") or ns)
            ),
            None,
        )
        if mta is None:
            draft.lose(
                src,
                f"spec.requiredAuthenticationRefs[{j}]",
                f"MeshTLSAuthentication {name} is not in the input; not imported",
            )
            return None
        for k, text in enumerate(mta.spec.get("identities") or []):
            identity = _identity(draft, str(text))
            if identity is None:
                draft.lose(
                    mta,
                    f"spec.identities[{k}]",
                    f"{text!r} is no service account "
                    "identity of the mesh's trust domain; not imported",
                )
                return None
            found.append(identity)
        for k, ref2 in enumerate(mta.spec.get("identityRefs") or []):
            if ref2.get("kind") == "ServiceAccount":
                found.append(
                    (str(ref2.get("namespace") or draft.namespace_of(mta)), str(ref2.get("name")))
                )
            elif ref2.get("kind") == "Namespace":
                found.append((str(ref2.get("name")), "*"))
            else:
                draft.lose(mta, f"spec.identityRefs[{k}]", "not a service account or namespace")
                return None
        mta_used.add(id(mta))
    return found


mta_used: set[int] = set()


def _server_authorization(draft: Draft, src: Source, ns: str) -> list[tuple[str, str]] | None:
    """The callers of Linkerd's older ServerAuthorization (policy.linkerd.io/v1beta1): its
    meshTLS identities and service accounts, as an AuthorizationPolicy's."""
    client = src.spec.get("client") or {}
    for key in sorted(set(client) - {"meshTLS"}):
        draft.lose(
            src,
            f"spec.client.{key}",
            "the spec admits meshed callers by identity "
            "(not unauthenticated clients or networks); not imported",
        )
        return None
    mesh_tls = client.get("meshTLS") or {}
    if not mesh_tls or mesh_tls.get("unauthenticatedTLS"):
        draft.lose(src, "spec.client.meshTLS", "the spec admits callers it names by identity")
        return None
    found: list[tuple[str, str]] = []
    for k, text in enumerate(mesh_tls.get("identities") or []):
        identity = _identity(draft, str(text))
        if identity is None:
            draft.lose(
                src,
                f"spec.client.meshTLS.identities[{k}]",
                f"{text!r} is no service account identity of the mesh's trust domain; not imported",
            )
            return None
        found.append(identity)
    for account in mesh_tls.get("serviceAccounts") or []:
        found.append((str(account.get("namespace") or ns), str(account.get("name"))))
    return found


def _policies(inv: Inventory, draft: Draft) -> None:
    servers = inv.kind("Server", POLICY)
    policies = inv.kind("AuthorizationPolicy", POLICY)
    limits = inv.kind("HTTPLocalRateLimitPolicy", POLICY)
    allowed: dict[tuple[str, str], dict[int, list[tuple[str, str]]]] = {}
    for src in servers:
        with draft.guard(src):
            _server(inv, draft, src, policies, limits, allowed)
    _gateway_identities(inv, draft, allowed)
    _allow_rules(draft, allowed)
    for m in inv.kind("MeshTLSAuthentication", POLICY):
        if id(m) not in mta_used:
            draft.lose(m, "", "no AuthorizationPolicy of a Server uses it; not imported")


def _server(
    inv: Inventory,
    draft: Draft,
    src: Source,
    policies: list[Source],
    limits: list[Source],
    allowed: dict[tuple[str, str], dict[int, list[tuple[str, str]]]],
) -> None:
    ns = draft.namespace_of(src)
    spec = src.spec
    labels = (spec.get("podSelector") or {}).get("matchLabels") or {}
    svc = next(
        (
            s
            for (n, _), s in draft.services.items()
            if n == ns and s["selector"] == {str(k): str(v) for k, v in labels.items()}
        ),
        None,
    )
    if svc is None or set(spec.get("podSelector") or {}) - {"matchLabels"}:
        draft.lose(
            src,
            "spec.podSelector",
            "selects no Service's pods exactly; the spec admits callers per service",
        )
        return
    ports = _server_ports(inv, src, svc)
    if not ports:
        draft.lose(src, "spec.port", "no port of the Service targets it")
        return
    protocol = spec.get("proxyProtocol")
    for p in svc["ports"]:
        if p["port"] in ports and protocol in ("HTTP/2", "gRPC", "opaque"):
            p["protocol"] = {"HTTP/2": "http2", "gRPC": "grpc", "opaque": "tcp"}[protocol]
    mine = [
        p
        for p in policies
        if (p.spec.get("targetRef") or {}).get("kind") == "Server"
        and (p.spec.get("targetRef") or {}).get("name") == src.name
        and draft.namespace_of(p) == ns
    ]
    mine += [
        a
        for a in inv.kind("ServerAuthorization", POLICY)
        if (a.spec.get("server") or {}).get("name") == src.name and draft.namespace_of(a) == ns
    ]
    for limit in limits:
        if (
            (limit.spec.get("targetRef") or {}).get("name") == src.name
            and draft.namespace_of(limit) == ns
            and "rateLimit" not in svc
        ):
            rate: Part = {}
            if "total" in limit.spec:
                rate["requestsPerSecond"] = limit.spec["total"].get("requestsPerSecond")
            if "identity" in limit.spec:
                rate["perCallerRequestsPerSecond"] = limit.spec["identity"].get("requestsPerSecond")
            if "overrides" in limit.spec:
                draft.lose(
                    limit, "spec.overrides", "the spec's rate limit is the same for every caller"
                )
            svc["rateLimit"] = rate
            draft.imported += 1
    access = spec.get("accessPolicy", "deny")
    if not mine:
        if access == "deny":
            draft.lose(
                src,
                "spec.accessPolicy",
                "deny with no AuthorizationPolicy admits "
                "nobody; the spec admits the callers it names",
            )
        draft.imported += 1
        return
    who: list[tuple[str, str]] = []
    for p in mine:
        found = (
            _server_authorization(draft, p, ns)
            if p.kind == "ServerAuthorization"
            else _authentications(draft, inv, p, ns)
        )
        if found is None:
            continue
        who += [w for w in found if w not in who]
        draft.imported += 1
    for port in ports:
        allowed.setdefault((ns, svc["name"]), {})[port] = who
    svc.setdefault("_servers", []).append((src, ports))
    svc.setdefault("_allow_src", src)
    draft.imported += 1


def _allow_rules(
    draft: Draft, allowed: dict[tuple[str, str], dict[int, list[tuple[str, str]]]]
) -> None:
    for key, by_port in allowed.items():
        svc = draft.services[key]
        src = svc.pop("_allow_src")
        servers = svc.pop("_servers", [])
        for port in svc["ports"]:
            if port["port"] not in by_port:
                draft.lose(
                    servers[0][0],
                    "spec.port",
                    f"port {port['port']} of Service "
                    f"{svc['name']} has no Server, so the namespace's default policy "
                    "admits its callers; the spec's allow rules refuse the ports they "
                    "do not name",
                )
        groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
        for port, callers in by_port.items():
            groups.setdefault(tuple(callers), []).append(port)
        every = len(groups) == 1 and set(next(iter(groups.values()))) == {
            p["port"] for p in svc["ports"]
        }
        rules = []
        for who, ports in groups.items():
            if not who:
                continue
            rule: Part = {}
            origin(rule, src)
            namespaces = [n for n, sa in who if sa == "*"]
            accounts = [f"{n}/{sa}" for n, sa in who if sa != "*"]
            if namespaces:
                rule["fromNamespaces"] = namespaces
            if accounts:
                rule["fromServiceAccounts"] = accounts
            if not every:
                rule["ports"] = sorted(ports)
            rules.append(rule)
        if rules:
            svc["allow"] = rules


def _gateway_identities(
    inv: Inventory, draft: Draft, allowed: dict[tuple[str, str], dict[int, list[tuple[str, str]]]]
) -> None:
    """An ingress gateway's identity: admitted on every backend of its routes, from a
    namespace outside the mesh (how meshc admits it); it is the gateway's, not a caller's."""
    meshed = {ns for ns, _ in draft.services}
    for entry in draft.ingress.values():
        gateway = entry["gateway"]
        if "serviceAccount" in gateway:
            continue
        backends = [
            (
                r["backend"].get("namespace", entry["namespace"]),
                r["backend"]["service"],
                r["backend"]["port"],
            )
            for r in entry["routes"]
            if "backend" in r
        ]
        candidates: set[tuple[str, str]] | None = None
        for ns, name, port in backends:
            who = set(allowed.get((ns, name), {}).get(port, []))
            outside = {w for w in who if w[0] not in meshed and w[1] != "*"}
            candidates = outside if candidates is None else candidates & outside
        if candidates and len(candidates) == 1:
            gns, sa = candidates.pop()
            gateway["namespace"], gateway["serviceAccount"] = gns, sa
            for ns, name, port in backends:
                for ports in allowed.get((ns, name), {}).values():
                    if (gns, sa) in ports:
                        ports.remove((gns, sa))
            continue
        for w in inv.workloads():
            if pod_labels(w).get("gateway.networking.k8s.io/gateway-name") == entry["name"]:
                gateway["namespace"] = w.namespace or entry["namespace"]
                gateway["serviceAccount"] = str(pod_spec(w).get("serviceAccountName") or "default")
                break
        else:
            gateway["namespace"] = entry["namespace"]
            gateway["serviceAccount"] = entry["name"]
            draft.notes.append(
                f"{entry['__from__'][0]}: Gateway {entry['namespace']}/"
                f"{entry['name']}: its pods' service account is not in the "
                f"input; assumed {entry['namespace']}/{entry['name']} (edit "
                "spec.ingress[].gateway)"
            )


# --- SMI and ServiceProfile -----------------------------------------------------------------


def _weight(value: Any) -> int:
    text = str(value)
    return int(text[:-1]) // 1000 if text.endswith("m") else int(float(text))


def traffic_split(draft: Draft, src: Source) -> None:
    ns = draft.namespace_of(src)
    svc = draft.service(ns, str(src.spec.get("service", "")).split(".")[0])
    if svc is None:
        draft.lose(src, "spec.service", "no Service of the input; not imported")
        return
    if "_vs" in svc or "routes" in svc:
        draft.lose(src, "", f"{ns}/{svc['name']} has routes already; not merged")
        return
    split: dict[str, int] = {}
    for i, backend in enumerate(src.spec.get("backends") or []):
        name = str(backend.get("service", ""))
        version = next(
            (v["name"] for v in svc.get("versions", []) if f"{svc['name']}-{v['name']}" == name),
            None,
        )
        if version is None:
            draft.lose(
                src, f"spec.backends[{i}]", f"{name!r} is no version of {svc['name']}; not imported"
            )
            return
        split[str(version)] = _weight(backend.get("weight", 0))
    for key in sorted(set(src.spec) - {"service", "backends"}):
        draft.lose(src, f"spec.{key}", "a TrafficSplit's matches are not imported")
    route: Part = {"split": split} if len(split) > 1 else {"to": next(iter(split))}
    origin(route, src)
    svc["routes"] = [route]
    draft.imported += 1


def service_profile(draft: Draft, src: Source) -> None:
    ns = draft.namespace_of(src)
    name = src.name.removesuffix(f".svc.{CLUSTER_DOMAIN}")
    svc_name, _, svc_ns = name.partition(".")
    svc = draft.service(svc_ns or ns, svc_name)
    if svc is None:
        draft.lose(src, "metadata.name", "names no Service of the input; not imported")
        return
    spec = src.spec
    routes = spec.get("routes") or []
    catch_all = [
        r
        for r in routes
        if (r.get("condition") or {}) in ({"pathRegex": ".*"}, {"pathRegex": "/.*"})
    ]
    for i, route in enumerate(routes):
        if route not in catch_all:
            draft.lose(
                src,
                f"spec.routes[{i}]",
                "a ServiceProfile route with its own "
                "condition: the spec's timeouts and retries are per service or per "
                "route of its HTTPRoutes; not imported",
            )
    if catch_all:
        route = catch_all[0]
        if route.get("timeout"):
            svc["timeout"] = str(route["timeout"])
        if route.get("isRetryable"):
            budget = spec.get("retryBudget") or {}
            conditions = []
            for c in route.get("responseClasses") or []:
                status = (c.get("condition") or {}).get("status") or {}
                found = _FAILURE_CLASSES.get((status.get("min"), status.get("max")))
                if found is None or not c.get("isFailure"):
                    draft.lose(
                        src,
                        "spec.routes",
                        "a response class the spec's retry conditions do not name",
                    )
                else:
                    conditions.append(found)
            retries: Part = {"attempts": max(1, int(float(budget.get("retryRatio", 0.2))))}
            if conditions:
                retries["retryOn"] = conditions
            if (
                budget.get("retryRatio") is not None
                and float(budget["retryRatio"]) != retries["attempts"]
            ):
                draft.lose(
                    src,
                    "spec.retryBudget.retryRatio",
                    "the spec retries a number of "
                    f"times; a budget of {budget['retryRatio']} is not imported exactly",
                )
            svc["retries"] = retries
    for key in sorted(set(spec) - {"routes", "retryBudget", "dstOverrides"}):
        draft.lose(src, f"spec.{key}", "not a spec setting")
    draft.imported += 1


def import_linkerd(inv: Inventory, draft: Draft) -> None:
    mta_used.clear()
    mine = [
        s
        for s in inv.sources
        if s.group in PROFILE.config_groups or s.group == SERVICE_PROFILE_GROUP
    ]
    if mine or any(p.get("_marker") and p["_marker"][0] == NAME for p in draft.namespaces.values()):
        draft.provider_votes[NAME] += len(mine) or 1
    _namespaces(draft)
    _service_annotations(draft)
    _policies(inv, draft)
    for src in inv.kind("TrafficSplit", SMI):
        with draft.guard(src):
            traffic_split(draft, src)
    for src in inv.kind("ServiceProfile", SERVICE_PROFILE_GROUP):
        with draft.guard(src):
            service_profile(draft, src)
    known = {
        "Server",
        "ServerAuthorization",
        "AuthorizationPolicy",
        "MeshTLSAuthentication",
        "HTTPLocalRateLimitPolicy",
        "TrafficSplit",
        "ServiceProfile",
        "HTTPRoute",
        "EgressNetwork",
        "TLSRoute",
    }
    for src in mine:
        if src.kind not in known:
            draft.lose(
                src,
                "",
                f"meshc import does not read {src.kind} objects: the spec has no equivalent",
            )
        if src.kind == "EgressNetwork" and src.spec.get("trafficPolicy") != "Deny":
            draft.lose(
                src,
                "spec.trafficPolicy",
                "the spec's egress admits the hosts it names and refuses others",
            )
