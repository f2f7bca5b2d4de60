"""What kuma-cp's validators require of the builtin gateway's objects, beyond their CRDs.

The MeshGateway CRD leaves its spec free (x-kubernetes-preserve-unknown-fields) and
Kuma's Go module cannot be fetched here, so the rules of kumahq/kuma v2.14.3 that bear
on what meshc renders are restated: pkg/core/resources/apis/mesh/gateway_validator.go
(MeshGateway), pkg/plugins/runtime/k8s/webhooks/gateway_instance_validator.go
(MeshGatewayInstance), and the system-role branches of validateTop and validateTos in
meshhttproute and meshtimeout (api/v1alpha1/validation.go, validator.go).
"""

from __future__ import annotations

import re
from typing import Any

SYSTEM_NAMESPACE = "kuma-system"
# Tags a MeshGateway and its listeners must not set: Dataplane properties.
RESERVED_TAGS = {"kuma.io/service", "kuma.io/protocol", "kuma.io/zone", "kuma.io/external-service"}
_TAG_NAME = re.compile(r"^[a-zA-Z0-9.\-_:/]+$")
_SELECTOR_VALUE = re.compile(r"^([a-zA-Z0-9.\-_:/]+|\*)$")
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_HOSTNAME = re.compile(rf"^(\*\.)?{_DNS_LABEL}(\.{_DNS_LABEL})*$")


def is_gateway_object(obj: dict[str, Any]) -> bool:
    """A MeshGateway, a MeshGatewayInstance, or a policy of kuma-system (the gateway's
    routes and their timeouts: the only policies meshc puts there)."""
    return obj["kind"] in ("MeshGateway", "MeshGatewayInstance") or (
        obj["metadata"].get("namespace") == SYSTEM_NAMESPACE
    )


def _tags(tags: dict[str, str]) -> None:
    for key, value in tags.items():
        assert _TAG_NAME.match(key) and key not in RESERVED_TAGS, key
        assert _SELECTOR_VALUE.match(value), value


def _mesh_gateway(obj: dict[str, Any]) -> None:
    assert "namespace" not in obj["metadata"], "MeshGateway is cluster-scoped"
    assert obj["mesh"] == "default"
    spec = obj["spec"]
    selectors = spec["selectors"]
    assert len(selectors) >= 1
    for selector in selectors:
        assert selector["match"].get("kuma.io/service"), "a selector names the service tag"
    _tags(spec.get("tags", {}))
    listeners = spec["conf"]["listeners"]
    assert listeners, "conf.listeners cannot be empty"
    protocols: dict[int, set[str]] = {}
    hosts: dict[int, list[str]] = {}
    for listener in listeners:
        port = listener["port"]
        assert 1 <= port <= 65535
        assert listener["protocol"] in ("HTTP", "HTTPS")
        hostname = listener.get("hostname") or "*"
        assert hostname == "*" or _HOSTNAME.match(hostname), hostname
        protocols.setdefault(port, set()).add(listener["protocol"])
        hosts.setdefault(port, []).append(hostname)
        _tags(listener.get("tags", {}))
        tls = listener.get("tls")
        if listener["protocol"] == "HTTPS":
            assert tls is not None, "tls cannot be empty"
            assert tls["mode"] == "TERMINATE", "PASSTHROUGH is not supported on HTTPS"
            assert 1 <= len(tls["certificates"]) <= 2
            for cert in tls["certificates"]:
                assert len(set(cert) & {"secret", "inline", "inlineString", "file"}) == 1
    for port, found in protocols.items():
        assert len(found) == 1, f"protocol conflicts with other listeners on port {port}"
    for port, names in hosts.items():
        assert len(names) == len(set(names)), f"multiple listeners for hostname on port {port}"


def _instance(obj: dict[str, Any]) -> None:
    spec = obj["spec"]
    assert "kuma.io/service" not in spec.get("tags", {}), "the service tag is kuma-cp's"
    assert spec.get("replicas", 1) >= 1
    assert spec.get("serviceType", "LoadBalancer") in ("LoadBalancer", "ClusterIP", "NodePort")
    assert obj["metadata"]["labels"]["kuma.io/mesh"] == "default"


def _route(obj: dict[str, Any], gateways: set[str]) -> None:
    spec = obj["spec"]
    ref = spec["targetRef"]
    assert ref["kind"] == "MeshGateway" and ref["name"] in gateways
    assert set(ref) == {"kind", "name"}, "a MeshGateway ref takes no namespace"
    assert spec["to"]
    for to in spec["to"]:
        assert to["targetRef"] == {"kind": "Mesh"}, "a gateway route's to is kind Mesh"
        for rule in to["rules"]:
            assert rule["matches"]
            filters = rule["default"].get("filters", [])
            backends = rule["default"].get("backendRefs", [])
            redirect = any(f["type"] == "RequestRedirect" for f in filters)
            assert backends or redirect, "backendRefs must not be empty (but for a redirect)"
            for backend in backends:
                assert backend["kind"] == "MeshService" and backend["name"]
                # From kuma-system a MeshService of a workload namespace is named with it.
                assert backend["namespace"] != SYSTEM_NAMESPACE
                assert 1 <= backend["port"] <= 65535


def _timeout(obj: dict[str, Any], routes: set[str]) -> None:
    spec = obj["spec"]
    assert spec["targetRef"] == {"kind": "MeshHTTPRoute", "name": spec["targetRef"]["name"]}
    assert spec["targetRef"]["name"] in routes, "names a gateway route of kuma-system"
    assert "from" not in spec, "from must not be defined with a MeshHTTPRoute targetRef"
    for to in spec["to"]:
        assert to["targetRef"] == {"kind": "Mesh"}
        assert to["default"]["http"]


def check_gateway_rules(obj: dict[str, Any], objects: list[dict[str, Any]]) -> None:
    gateways = {o["metadata"]["name"] for o in objects if o["kind"] == "MeshGateway"}
    routes = {
        o["metadata"]["name"]
        for o in objects
        if o["kind"] == "MeshHTTPRoute" and o["metadata"].get("namespace") == SYSTEM_NAMESPACE
    }
    kind = obj["kind"]
    if kind == "MeshGateway":
        _mesh_gateway(obj)
    elif kind == "MeshGatewayInstance":
        _instance(obj)
    elif kind == "MeshHTTPRoute":
        _route(obj, gateways)
    elif kind == "MeshTimeout":
        _timeout(obj, routes)
    else:
        raise AssertionError(f"{kind} in {SYSTEM_NAMESPACE}: meshc puts only gateway routes there")
    if kind in ("MeshHTTPRoute", "MeshTimeout"):
        assert obj["metadata"]["labels"]["kuma.io/mesh"] == "default"
