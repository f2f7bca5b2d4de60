"""spec.egress as one MeshPassthrough per meshed namespace: its proxies reach the listed
external hosts and ports, and no other address outside the mesh.

MeshPassthrough (pkg/plugins/policies/meshpassthrough at v2.14.3) with
``passthroughMode: Matched`` removes the proxy's default passthrough cluster
whatever the Mesh's own passthrough setting, and lets through only the
``appendMatch`` destinations (plugin/v1alpha1/plugin.go,
applyToOutboundPassthrough): a Domain with its port and protocol, ``http`` or
``tls`` (matched on SNI). A policy without ``to`` in a workload namespace
selects only the proxies of that namespace (core/matchers/dataplane.go,
dppSelectedByNamespace), as the spec's egress is per meshed namespace on the
other meshes too.
"""

from __future__ import annotations

from typing import Any

from ...model import Mesh
from ...objects import Obj, new_object
from .common import API, policy_metadata

NAME = "egress"


def _matches(mesh: Mesh) -> list[dict[str, Any]]:
    matches = [
        {"type": "Domain", "value": entry.host, "port": p.port, "protocol": p.protocol}
        for entry in mesh.egress
        for p in entry.ports
    ]
    # Kuma's validator refuses an http match on a port an earlier match gave another
    # protocol (validator.go, notAllowedProtocolsOnTheSamePort): http matches first.
    return sorted(matches, key=lambda m: m["protocol"] != "http")


def egress_objects(mesh: Mesh) -> list[Obj]:
    if not mesh.egress:
        return []
    return [
        new_object(
            API,
            "MeshPassthrough",
            policy_metadata(mesh, "MeshPassthrough", NAME, ns.name, "spec.egress"),
            spec={
                "targetRef": {"kind": "Mesh"},
                "default": {"passthroughMode": "Matched", "appendMatch": _matches(mesh)},
            },
        )
        for ns in mesh.namespaces
    ]
