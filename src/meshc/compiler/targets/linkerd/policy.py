"""Linkerd authorization: a service's allow rules as Servers, AuthorizationPolicies and
MeshTLSAuthentications (policy.linkerd.io), the successors of the ServerAuthorization the
Linkerd quickstart mentions.

A Server takes over one port of the service's pods and denies every caller no
AuthorizationPolicy admits, which is the meaning of an allow list. Each Server
gets one AuthorizationPolicy whose MeshTLSAuthentication lists the identities of
every rule that opens that port; a rule without ports opens them all. A port no
rule opens keeps its Server and no policy: closed, as on Istio.
"""

from __future__ import annotations

from typing import Any

from ...model import AllowRule, Mesh, Service
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


def policy_objects(mesh: Mesh, svc: Service) -> list[Obj]:
    if not svc.allow:
        return []
    path = f"{svc.path}.allow"
    objects: list[Obj] = []
    # Servers select pod ports, so Service ports sharing a targetPort share one Server.
    servers: dict[int | str, tuple[str, str, list[AllowRule]]] = {}
    for p in svc.ports:
        if p.target_port not in servers:
            servers[p.target_port] = (f"{svc.name}-{p.name}", p.protocol, [])
        name, _, rules = servers[p.target_port]
        rules += [r for r in svc.allow if (not r.ports or p.port in r.ports) and r not in rules]
    for target_port, (name, protocol, rules) in servers.items():
        spec: dict[str, Any] = {"podSelector": {"matchLabels": dict(svc.selector)}, "port": target_port}
        if protocol in _PROXY_PROTOCOL:
            spec["proxyProtocol"] = _PROXY_PROTOCOL[protocol]
        spec["accessPolicy"] = "deny"
        objects.append(new_object(
            f"{POLICY_API}/{SERVER_VERSION}", "Server",
            metadata(mesh, "Server", name, svc.namespace, path), spec=spec,
        ))
        if not rules:
            continue
        objects.append(new_object(
            f"{POLICY_API}/v1alpha1", "MeshTLSAuthentication",
            metadata(mesh, "MeshTLSAuthentication", name, svc.namespace, path),
            spec={"identities": _identities(mesh, rules)},
        ))
        objects.append(new_object(
            f"{POLICY_API}/v1alpha1", "AuthorizationPolicy",
            metadata(mesh, "AuthorizationPolicy", name, svc.namespace, path),
            spec={
                "targetRef": {"group": POLICY_API, "kind": "Server", "name": name},
                "requiredAuthenticationRefs": [
                    {"group": POLICY_API, "kind": "MeshTLSAuthentication", "name": name},
                ],
            },
        ))
    return objects
