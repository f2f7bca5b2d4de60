"""spec.egress as Consul destinations: each external host and port a ServiceDefaults with a
``destination``, reached through the terminating gateway, and no other host reachable.

How Consul gives them that effect (hashicorp/consul, agent/):

- A service whose ServiceDefaults has a ``destination`` is a destination: a
  transparent proxy gets an upstream for it only when intentions allow the
  proxy's service to reach it (consul/state/intention.go, ``IntentionTopology``
  over ``IntentionTargetDestination``, asked by proxycfg's
  ``IntentionUpstreamsDestination`` watch with the cluster's default decision).
  So each destination gets a ServiceIntentions allowing the services the spec
  declares and denying ``*``, as a service's ``allow`` does (policy.py).
- The caller's outbound listener matches a ``tcp`` destination by SNI and port
  (xds/listeners.go, ``makeFilterChainMatchFromAddressWithPort``: a hostname
  address becomes ``server_names``), which is the TLS the workload starts
  (``protocol: tls``), and an ``http`` one by port and then the Host header
  (the shared ``~http`` route, xds/routes.go, one virtual host per address).
- Its cluster's endpoints are the terminating gateways that list the service
  (proxycfg ``DestinationGateways``): the TerminatingGateway config entry
  rendered here lists every destination. The gateway itself is consul-k8s's
  Helm ``terminatingGateways`` (enabled: true, its default gateway
  ``terminating-gateway``), which meshc does not deploy.
- Other hosts: the Mesh's ``transparentProxy.meshDestinationsOnly`` removes the
  outbound listener's catch-all chain to the original destination
  (xds/listeners.go, ``OriginalDestinationClusterName`` added only without it).
  The Mesh entry is a singleton, so that applies to every transparent proxy
  Consul configures, not only the meshed namespaces' (reported).
"""

from __future__ import annotations

from typing import Any

from ...model import Mesh
from ...model_traffic import EgressHost, EgressPort
from ...objects import Obj, metadata, new_object
from .. import Report
from .common import API

# The features rendered here (consul/unsupported.py reports the others).
FEATURES = frozenset({"egress.hosts", "egress.hosts.tls"})
# consul-k8s's Helm chart: terminatingGateways.gateways[0].name, the Consul service the
# gateway registers as, and so the name its TerminatingGateway config entry must have
# (charts/consul/values.yaml; controllers/configentries, TerminatingGateway.ConsulName).
GATEWAY = "terminating-gateway"
# The spec's egress protocols as the destination's ServiceDefaults protocol.
PROTOCOL = {"http": "http", "tls": "tcp"}


def destination_name(host: str, port: int) -> str:
    """The Consul service of one host and port: a destination has one port."""
    return f"egress-{host}-{port}"


def _destinations(mesh: Mesh) -> list[tuple[EgressHost, EgressPort]]:
    return [(host, port) for host in mesh.egress for port in host.ports]


def mesh_settings(mesh: Mesh) -> dict[str, Any]:
    """What the Mesh entry adds for the spec's egress: only the listed hosts are reachable."""
    if not mesh.egress:
        return {}
    return {"transparentProxy": {"meshDestinationsOnly": True}}


def egress_objects(mesh: Mesh, report: Report) -> list[Obj]:
    destinations = _destinations(mesh)
    if not destinations:
        return []
    home = mesh.namespaces[0].name
    # Sorted, as the gateway's services: Consul applies intention sources by precedence
    # (intentionListToIntermediateRBACForm, policy.py) and a gateway's services as a set, so
    # the order the spec lists its services and hosts in changes nothing in the mesh and
    # nothing in the render (and an import of it renders the same).
    declared = sorted({s.name for s in mesh.services})
    report.lossy(
        "egress.hosts",
        "spec.egress",
        "rendered through the terminating gateway "
        f"{GATEWAY!r}, which consul-k8s's Helm terminatingGateways must deploy; "
        "Consul's meshDestinationsOnly refuses other hosts to every transparent proxy "
        "in the cluster, and the hosts' intentions admit the services the spec declares ("
        + (", ".join(declared) or "none")
        + "), not other workloads of the meshed namespaces",
    )
    objects: list[Obj] = []
    for host, port in destinations:
        name = destination_name(host.host, port.port)
        objects.append(
            new_object(
                API,
                "ServiceDefaults",
                metadata(mesh, "ServiceDefaults", name, home, host.path),
                spec={
                    "protocol": PROTOCOL[port.protocol],
                    "destination": {"addresses": [host.host], "port": port.port},
                },
            )
        )
        sources = [{"name": s, "action": "allow"} for s in declared]
        sources.append({"name": "*", "action": "deny"})
        objects.append(
            new_object(
                API,
                "ServiceIntentions",
                metadata(mesh, "ServiceIntentions", name, home, host.path),
                spec={"destination": {"name": name}, "sources": sources},
            )
        )
    objects.append(
        new_object(
            API,
            "TerminatingGateway",
            metadata(mesh, "TerminatingGateway", GATEWAY, home, "spec.egress"),
            spec={
                "services": [
                    {"name": name}
                    for name in sorted(destination_name(h.host, p.port) for h, p in destinations)
                ]
            },
        )
    )
    return objects


def name_clashes(mesh: Mesh, report: Report) -> None:
    """A destination's Consul service named like a service of the spec is one service."""
    declared = {s.name: s.path for s in mesh.services}
    for host, port in _destinations(mesh):
        name = destination_name(host.host, port.port)
        if name in declared:
            report.error(
                f"{host.path}.host",
                f"the Consul service of this host and port, {name!r}, is the service "
                f"{declared[name]} declares",
            )
