"""Linkerd authorization: a service's allow rules as Servers, AuthorizationPolicies and
MeshTLSAuthentications (policy.linkerd.io), the successors of the ServerAuthorization the
Linkerd quickstart mentions; rate limits as HTTPLocalRateLimitPolicies on those Servers.

A Server takes over one port of the service's pods and denies every caller no
AuthorizationPolicy admits, which is the meaning of an allow list. Each Server
gets one AuthorizationPolicy whose MeshTLSAuthentication lists the identities of
every rule that opens that port; a rule without ports opens them all. A port no
rule opens keeps its Server and no policy: closed, as on Istio. The ingress gateways that
route to a port are callers of it too (their identity joins the MeshTLSAuthentication).

A rate limit targets a Server (policy-controller/k8s/index/src/inbound/ratelimit_policy.rs),
so a rate-limited service without allow rules gets Servers that keep the namespace's default
inbound policy.
"""

from __future__ import annotations

from typing import Any

from meshc.providers.linkerd import STRICT_INBOUND_POLICY

from ...model import AllowRule, Mesh, Service
from ...model_traffic import gateway_callers
from ...objects import Obj, metadata, new_object

POLICY_API = "policy.linkerd.io"
# v1beta3 is Linkerd 2.16's Server version (it added accessPolicy); older versions are deprecated.
SERVER_VERSION = "v1beta3"
# Naming a known protocol skips detection; http and tcp are left to it, which handles both.
_PROXY_PROTOCOL = {"http2": "HTTP/2", "grpc": "gRPC"}


def identity(service_account: str, namespace: str, trust_domain: str) -> str:
    """The mTLS identity Linkerd's identity controller issues to a service account."""
    return f"{service_account}.{namespace}.serviceaccount.identity.linkerd.{trust_domain}"


def _identities(mesh: Mesh, rules: list[AllowRule]) -> list[str]:
    found: list[str] = []
    for rule in rules:
        # A namespace-wide allow is every service account in it: Linkerd's `*` prefix.
        found += [identity("*", ns, mesh.trust_domain) for ns in rule.from_namespaces]
        for account in rule.from_service_accounts:
            ns, _, name = account.partition("/")
            found.append(identity(name, ns, mesh.trust_domain))
    return list(dict.fromkeys(found))


def _gateway_identities(mesh: Mesh, svc: Service) -> dict[int, list[str]]:
    """Service port -> identities of the ingress gateways that route to it."""
    found: dict[int, list[str]] = {}
    for gateway, ports, _ in gateway_callers(mesh.ingress, svc.namespace, svc.name):
        for port in ports:
            found.setdefault(port, []).append(
                identity(gateway.service_account, gateway.namespace, mesh.trust_domain)
            )
    return found


def _open_access_policy(mesh: Mesh) -> str:
    # A Server replaces the namespace's default inbound policy for its port; one that only
    # carries a rate limit keeps that policy (namespace_markers: STRICT is
    # all-authenticated, PERMISSIVE Linkerd's default, all-unauthenticated).
    return STRICT_INBOUND_POLICY if mesh.mtls == "STRICT" else "all-unauthenticated"


def _rate_limit(mesh: Mesh, svc: Service, server: str, protocol: str) -> list[Obj]:
    limit = svc.rate_limit
    if limit is None or protocol == "tcp":
        return []
    spec: dict[str, Any] = {"targetRef": {"group": POLICY_API, "kind": "Server", "name": server}}
    if limit.requests_per_second is not None:
        spec["total"] = {"requestsPerSecond": limit.requests_per_second}
    if limit.per_caller_requests_per_second is not None:
        spec["identity"] = {"requestsPerSecond": limit.per_caller_requests_per_second}
    return [
        new_object(
            f"{POLICY_API}/v1alpha1",
            "HTTPLocalRateLimitPolicy",
            metadata(mesh, "HTTPLocalRateLimitPolicy", server, svc.namespace, limit.path),
            spec=spec,
        )
    ]


def policy_objects(mesh: Mesh, svc: Service) -> list[Obj]:
    """Servers with their authorization (allow rules, ingress gateways) and rate limits."""
    if not svc.allow and svc.rate_limit is None:
        return []
    path = f"{svc.path}.allow" if svc.allow else svc.rate_limit.path if svc.rate_limit else ""
    gateways = _gateway_identities(mesh, svc) if svc.allow else {}
    objects: list[Obj] = []
    # Servers select pod ports, so Service ports sharing a targetPort share one Server.
    servers: dict[int | str, tuple[str, str, list[AllowRule], list[str]]] = {}
    for p in svc.ports:
        if p.target_port not in servers:
            servers[p.target_port] = (f"{svc.name}-{p.name}", p.protocol, [], [])
        name, _, rules, extra = servers[p.target_port]
        rules += [r for r in svc.allow if (not r.ports or p.port in r.ports) and r not in rules]
        extra += [i for i in gateways.get(p.port, []) if i not in extra]
    for target_port, (name, protocol, rules, extra) in servers.items():
        spec: dict[str, Any] = {
            "podSelector": {"matchLabels": dict(svc.selector)},
            "port": target_port,
        }
        if protocol in _PROXY_PROTOCOL:
            spec["proxyProtocol"] = _PROXY_PROTOCOL[protocol]
        spec["accessPolicy"] = "deny" if svc.allow else _open_access_policy(mesh)
        objects.append(
            new_object(
                f"{POLICY_API}/{SERVER_VERSION}",
                "Server",
                metadata(mesh, "Server", name, svc.namespace, path),
                spec=spec,
            )
        )
        objects += _rate_limit(mesh, svc, name, protocol)
        if not rules and not extra:
            continue
        objects.append(
            new_object(
                f"{POLICY_API}/v1alpha1",
                "MeshTLSAuthentication",
                metadata(mesh, "MeshTLSAuthentication", name, svc.namespace, path),
                spec={"identities": _identities(mesh, rules) + extra},
            )
        )
        objects.append(
            new_object(
                f"{POLICY_API}/v1alpha1",
                "AuthorizationPolicy",
                metadata(mesh, "AuthorizationPolicy", name, svc.namespace, path),
                spec={
                    "targetRef": {"group": POLICY_API, "kind": "Server", "name": name},
                    "requiredAuthenticationRefs": [
                        {"group": POLICY_API, "kind": "MeshTLSAuthentication", "name": name},
                    ],
                },
            )
        )
    return objects
