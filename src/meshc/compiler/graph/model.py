"""The graph of a Mesh spec, before any format draws it.

Nodes live in groups (namespaces). A service node carries its ports; each
version is a node of its own, and each route is an edge from the service to
every version it sends traffic to, labelled with the route's match and the
version's weight. An allow rule is an edge from each caller it names (every
workload of a namespace, or one service account) to the service, labelled
with its ports; a service with no allow rule is reachable from any meshed
workload, drawn as one node of its own.

The graph is built by a list of contributors (:data:`CONTRIBUTORS`), each
adding what one part of the spec says; a new part of the spec (ingress,
egress) adds a contributor, and every format draws it.

For a review, :func:`diff_graphs` merges the graphs of two revisions: what
only the new one has is marked ``added``, what only the old one had
``removed``, and an edge whose label changed appears as both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from ..model import Mesh, Route, Service, StringMatch

NodeKind = Literal["service", "version", "workloads", "serviceaccount", "anyone"]
EdgeKind = Literal["route", "allow"]
Change = Literal["", "added", "removed"]

ANYONE = "anyone"


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    lines: tuple[str, ...]  # the label, one entry per line; the first is the name
    group: str = ""  # the group's id, "" for none
    change: Change = ""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: EdgeKind
    label: str
    weight: int | None = None  # a route's weight for this version
    change: Change = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.source, self.target, self.kind, self.label)


@dataclass(frozen=True)
class Group:
    id: str
    title: str
    meshed: bool
    change: Change = ""


@dataclass
class MeshGraph:
    name: str
    groups: dict[str, Group] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    _seen: set[tuple[str, str, str, str]] = field(default_factory=set, repr=False)

    def add_group(self, group: Group) -> None:
        self.groups.setdefault(group.id, group)

    def add_node(self, node: Node) -> None:
        self.nodes.setdefault(node.id, node)

    def add_edge(self, edge: Edge) -> None:
        if edge.key not in self._seen:
            self._seen.add(edge.key)
            self.edges.append(edge)

    def services(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == "service"]


def node_id(*parts: str) -> str:
    """An identifier every format accepts: letters, digits and underscores.

    DNS-1123 names have no underscore, so ``-`` -> ``_`` and ``.``/``/`` ->
    ``__`` keep distinct names distinct.
    """
    text = "__".join(parts)
    return text.replace("-", "_").replace(".", "__").replace("/", "__").replace("*", "all")


def group_id(namespace: str) -> str:
    return node_id("ns", namespace)


def service_id(svc: Service) -> str:
    return node_id("svc", svc.namespace, svc.name)


def _namespace(graph: MeshGraph, mesh: Mesh, name: str) -> str:
    gid = group_id(name)
    graph.add_group(Group(gid, f"namespace {name}", name in mesh.meshed_namespaces))
    return gid


def _services(mesh: Mesh, graph: MeshGraph) -> None:
    for ns in mesh.namespaces:
        _namespace(graph, mesh, ns.name)
    for svc in mesh.services:
        ports = ", ".join(f":{p.port} {p.protocol}" for p in svc.ports)
        gid = _namespace(graph, mesh, svc.namespace)
        graph.add_node(Node(service_id(svc), "service", (svc.name, ports), gid))
        for version in svc.versions:
            labels = ",".join(f"{k}={v}" for k, v in version.labels.items())
            graph.add_node(Node(node_id("ver", svc.namespace, svc.name, version.name), "version",
                                (f"{svc.name} {version.name}", labels), gid))  # fmt: skip


def _show(match: StringMatch) -> str:
    return {"exact": "= {}", "prefix": "{}*", "regex": "~ {}"}[match.kind].format(match.value)


def route_label(route: Route, index: int) -> str:
    """``<name>: <match>``: the route's name (or its position) and what it matches."""
    name = route.name or f"route {index + 1}"
    parts = []
    if route.match is not None:
        parts += [f"{header} {_show(m)}" for header, m in route.match.headers]
        if route.match.path is not None:
            parts.append(f"path {_show(route.match.path)}")
    return f"{name}: {', '.join(parts)}" if parts else f"{name}: default"


def _routes(mesh: Mesh, graph: MeshGraph) -> None:
    for svc in mesh.services:
        for i, route in enumerate(svc.routes):
            label = route_label(route, i)
            for version, weight in route.split:
                target = node_id("ver", svc.namespace, svc.name, version)
                graph.add_edge(Edge(service_id(svc), target, "route", f"{label} {weight}%", weight))


def _allows(mesh: Mesh, graph: MeshGraph) -> None:
    for svc in mesh.services:
        if not svc.allow:
            graph.add_node(Node(ANYONE, "anyone", ("any meshed workload",)))
            graph.add_edge(Edge(ANYONE, service_id(svc), "allow", "any port"))
            continue
        for rule in svc.allow:
            ports = "any port"
            if rule.ports:
                ports = ("port " if len(rule.ports) == 1 else "ports ") + ",".join(
                    map(str, rule.ports)
                )
            for ns in rule.from_namespaces:
                gid = _namespace(graph, mesh, ns)
                caller = node_id("all", ns)
                graph.add_node(Node(caller, "workloads", (f"{ns}/*", "any workload"), gid))
                graph.add_edge(Edge(caller, service_id(svc), "allow", ports))
            for account in rule.from_service_accounts:
                ns, _, name = account.partition("/")
                gid = _namespace(graph, mesh, ns)
                caller = node_id("sa", ns, name)
                graph.add_node(Node(caller, "serviceaccount", (name, "service account"), gid))
                graph.add_edge(Edge(caller, service_id(svc), "allow", ports))


Contributor = Callable[[Mesh, MeshGraph], None]
# Each adds what one part of the spec says, in this order (services first:
# the others point at them).
CONTRIBUTORS: tuple[Contributor, ...] = (_services, _routes, _allows)


def mesh_graph(mesh: Mesh) -> MeshGraph:
    graph = MeshGraph(mesh.name)
    for contribute in CONTRIBUTORS:
        contribute(mesh, graph)
    return graph


def diff_graphs(old: MeshGraph, new: MeshGraph, *, only_changes: bool = False) -> MeshGraph:
    """One graph of both revisions, what differs marked ``added`` or ``removed``.

    With ``only_changes``, just the changed edges, the nodes they join and
    the groups of those nodes (what a review needs to see).
    """
    merged = MeshGraph(new.name)
    old_edges = {e.key for e in old.edges}
    new_edges = {e.key for e in new.edges}
    edges = [replace(e, change="" if e.key in old_edges else "added") for e in new.edges]
    edges += [replace(e, change="removed") for e in old.edges if e.key not in new_edges]
    nodes = {nid: replace(n, change="" if nid in old.nodes else "added")
             for nid, n in new.nodes.items()}  # fmt: skip
    nodes.update({nid: replace(n, change="removed")
                  for nid, n in old.nodes.items() if nid not in new.nodes})  # fmt: skip
    groups = {gid: replace(g, change="" if gid in old.groups else "added")
              for gid, g in new.groups.items()}  # fmt: skip
    groups.update({gid: replace(g, change="removed")
                   for gid, g in old.groups.items() if gid not in new.groups})  # fmt: skip
    if only_changes:
        edges = [e for e in edges if e.change]
        keep = {e.source for e in edges} | {e.target for e in edges}
        keep |= {nid for nid, n in nodes.items() if n.change}
        nodes = {nid: n for nid, n in nodes.items() if nid in keep}
        used = {n.group for n in nodes.values()}
        groups = {gid: g for gid, g in groups.items() if gid in used or g.change}
    merged.groups, merged.nodes, merged.edges = groups, nodes, edges
    return merged


def members(graph: MeshGraph) -> dict[str, list[Node]]:
    """Group id -> its nodes, in the graph's order ("" holds the nodes of no group)."""
    found: dict[str, list[Node]] = {gid: [] for gid in graph.groups}
    found.setdefault("", [])
    for node in graph.nodes.values():
        found.setdefault(node.group, []).append(node)
    return found


def iter_labels(graph: MeshGraph) -> Iterable[str]:
    for node in graph.nodes.values():
        yield from node.lines
