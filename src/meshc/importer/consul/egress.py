"""Consul destinations as ``spec.egress``: a ServiceDefaults with a ``destination`` is an
external host and port, reached through the terminating gateway, and the Mesh's
``transparentProxy.meshDestinationsOnly`` refuses every other host.

The inverse of targets/consul/egress.py, which writes per host and port a ServiceDefaults
``egress-<host>-<port>`` (``protocol`` ``http``, or ``tcp`` for the spec's ``tls``; the
``destination``'s one address and port), its ServiceIntentions (the services the spec
declares allowed, ``*`` denied), one TerminatingGateway ``terminating-gateway`` listing
every destination, and ``meshDestinationsOnly: true``. What gives a destination its
effect (targets/consul/egress.py cites Consul's code): a caller reaches it only when
intentions allow the caller (``IntentionTopology``), only through a terminating gateway
that lists it, and other hosts only without ``meshDestinationsOnly``. So each of those is
read, and one that says something else is reported: the spec's egress is the hosts every
declared service may reach, and no other host.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from meshc.compiler.schema_base import DNS1123_SUBDOMAIN
from meshc.compiler.targets.consul.egress import GATEWAY

from ..draft import Draft, Part, Source, origin

# A destination's protocol -> the spec's egress protocol (targets/consul/egress.py PROTOCOL).
PROTOCOLS = {"http": "http", "tcp": "tls"}
_HOST = re.compile(DNS1123_SUBDOMAIN)
_DESTINATION_FIELDS = {"protocol", "destination"}
_WILDCARD = "*"


@dataclass
class Egress:
    """The entries of the mesh's destinations, gathered while the services are read."""

    destinations: dict[str, Source] = field(default_factory=dict)  # Consul name -> entry
    intentions: dict[str, Source] = field(default_factory=dict)  # destination -> entry
    gateways: list[Source] = field(default_factory=list)
    mesh: Source | None = None
    only_destinations: bool = False  # the Mesh's transparentProxy.meshDestinationsOnly


def is_destination(src: Source) -> bool:
    return src.kind == "ServiceDefaults" and "destination" in src.spec


def read_mesh_proxy(draft: Draft, src: Source, egress: Egress) -> None:
    """The Mesh's ``transparentProxy``: whether hosts outside the mesh are refused."""
    proxy = src.spec.get("transparentProxy") or {}
    egress.mesh = src
    egress.only_destinations = proxy.get("meshDestinationsOnly") is True
    for key in sorted(set(proxy) - {"meshDestinationsOnly"}):
        draft.lose(src, f"spec.transparentProxy.{key}", "not a spec setting; not imported")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _host_ports(draft: Draft, src: Source) -> list[tuple[str, Part]]:
    spec = src.spec
    for key in sorted(set(spec) - _DESTINATION_FIELDS):
        draft.lose(
            src,
            f"spec.{key}",
            "the spec's egress hosts say their port and protocol only; not imported",
        )
    protocol = PROTOCOLS.get(str(spec.get("protocol", "tcp")))
    if protocol is None:
        draft.lose(
            src,
            "spec.protocol",
            f"{spec.get('protocol')}: the spec's egress ports are HTTP or TLS (Consul's "
            "http or tcp); not imported",
        )
        return []
    dest = spec.get("destination") or {}
    for key in sorted(set(dest) - {"addresses", "port"}):
        draft.lose(src, f"spec.destination.{key}", "not a setting of the spec's egress")
    found = []
    for i, address in enumerate(dest.get("addresses") or []):
        host = str(address)
        if _HOST.fullmatch(host) is None or _is_ip(host):
            draft.lose(
                src,
                f"spec.destination.addresses[{i}]",
                f"{host}: the spec's egress names hosts by DNS name; not imported",
            )
            continue
        found.append((host, {"port": int(dest.get("port", 0)), "protocol": protocol}))
    return found


def _check_intentions(draft: Draft, name: str, dest: Source, egress: Egress) -> None:
    src = egress.intentions.get(name)
    if src is None:
        draft.lose(
            dest,
            "",
            "no ServiceIntentions names this destination, so the cluster's default "
            "intention policy decides who reaches it; the spec's egress hosts admit the "
            "services it declares (meshc renders their intention); imported so",
        )
        return
    declared = {s["name"] for s in draft.services.values()}
    sources = src.spec.get("sources") or []
    allowed = {str(s.get("name")) for s in sources if s.get("action") == "allow"}
    last = sources[-1] if sources else {}
    denied = last.get("name") == _WILDCARD and last.get("action") == "deny"
    extra = sorted({k for s in sources for k in s} - {"name", "action", "description"})
    extra += sorted(set(src.spec) - {"destination", "sources"})
    if allowed - {_WILDCARD} != declared or not denied or extra:
        draft.lose(
            src,
            "spec.sources",
            "the spec's egress hosts admit every service it declares ("
            + (", ".join(sorted(declared)) or "none")
            + ") and no other caller; imported so",
        )
    draft.imported += 1


def _check_gateways(draft: Draft, egress: Egress, read: set[str]) -> set[str]:
    """The destinations a terminating gateway lists (reporting what else they say)."""
    listed: set[str] = set()
    for src in egress.gateways:
        if src.name != GATEWAY:
            draft.lose(
                src,
                "metadata.name",
                f"meshc renders the terminating gateway {GATEWAY!r} (consul-k8s's Helm "
                "default), which must be deployed; imported so",
            )
        for key in sorted(set(src.spec) - {"services"}):
            draft.lose(src, f"spec.{key}", "not a setting of the spec's egress")
        for i, service in enumerate(src.spec.get("services") or []):
            name = str(service.get("name", ""))
            extra = sorted(set(service) - {"name"})
            if extra:
                draft.lose(
                    src,
                    f"spec.services[{i}].{extra[0]}",
                    "the gateway's TLS to a host is the workload's own in the spec's "
                    "egress; not imported",
                )
            if name in read:
                listed.add(name)
            else:
                draft.lose(
                    src,
                    f"spec.services[{i}]",
                    f"{name!r} is no destination read (the spec's egress hosts); not imported",
                )
        draft.imported += 1
    return listed


def read_egress(draft: Draft, egress: Egress) -> None:
    """The destinations as the spec's egress hosts, once the services are known."""
    read: dict[str, Source] = {}
    for name, src in egress.destinations.items():
        with draft.guard(src):
            for host, port in _host_ports(draft, src):
                part = draft.egress.setdefault(host, {"host": host, "ports": []})
                origin(part, src)
                if port not in part["ports"]:
                    part["ports"].append(port)
                read[name] = src
            draft.imported += 1
    for name, src in read.items():
        _check_intentions(draft, name, src, egress)
    listed = _check_gateways(draft, egress, set(read))
    for name in sorted(set(read) - listed):
        draft.lose(
            read[name],
            "",
            "no terminating gateway lists this destination, so its connections go nowhere; "
            f"the spec's egress hosts are reached through {GATEWAY!r}; imported so",
        )
    if read and not egress.only_destinations:
        where = egress.mesh or next(iter(read.values()))
        draft.lose(
            where,
            "spec.transparentProxy.meshDestinationsOnly" if egress.mesh else "",
            "hosts outside the mesh other than the destinations stay reachable, and the "
            "spec's egress refuses them (meshc renders meshDestinationsOnly: true); imported so",
        )
    elif egress.only_destinations and not read and egress.mesh is not None:
        draft.lose(
            egress.mesh,
            "spec.transparentProxy.meshDestinationsOnly",
            "refuses every host outside the mesh, and a spec without egress hosts refuses "
            "none; not imported",
        )
    for name, src in egress.intentions.items():
        if name not in read:
            draft.lose(src, "spec.destination.name", f"{name!r}: no destination read")


def destination_intention(src: Source, egress: Egress) -> bool:
    """Whether a ServiceIntentions is for a destination (read with it)."""
    name = str((src.spec.get("destination") or {}).get("name", ""))
    if name in egress.destinations:
        egress.intentions[name] = src
        return True
    return False
