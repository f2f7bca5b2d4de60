"""What a reviewer of a mesh change needs: the object changes, the warnings, the picture.

A change is judged at two levels. The rendered objects (:mod:`.objdiff`)
say exactly what the cluster will see; the specs say what it means. From the
specs come the warnings, security first:

- **security**: an allow edge added (a caller may now reach a service on
  some ports) or removed (one that could no longer will be refused), the
  spec's mTLS mode, an admission policy's mode, the allowed namespaces, an
  exemption from capture added or removed;
- **destructive**: a Namespace removed (the cluster deletes everything in
  it), a service removed;
- **traffic**: a weight moved, a route added or removed.

Each format is one function over :class:`Review`: ``text`` (the object
listing ``meshc diff`` always printed), ``markdown`` (a pull-request
comment, with the graph of what changed as Mermaid, added and removed edges
marked) and ``json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .graph import MeshGraph, diff_graphs, mesh_graph
from .graph import mermaid as mermaid_format
from .graph.model import Edge, Node, route_label
from .model import Mesh, Service
from .objdiff import _ABSENT, ObjectDiff, _label
from .objects import object_ref

Category = Literal["security", "destructive", "traffic"]
CATEGORIES: tuple[Category, ...] = ("security", "destructive", "traffic")
# The marker a pull-request comment carries, so it is found and updated in place.
COMMENT_MARKER = "<!-- meshc-diff: {spec} -->"


@dataclass(frozen=True, order=True)
class Warning:
    category: Category
    message: str

    @property
    def rank(self) -> int:
        return CATEGORIES.index(self.category)


@dataclass
class Review:
    spec: str
    base: str
    head: str
    objects: ObjectDiff
    old: Mesh | None
    new: Mesh | None
    warnings: list[Warning] = field(default_factory=list)

    def graph(self) -> MeshGraph:
        """Both revisions' graphs merged, reduced to what changed."""
        name = _name(self.old, self.new)
        old = mesh_graph(self.old) if self.old else MeshGraph(name)
        new = mesh_graph(self.new) if self.new else MeshGraph(name)
        return diff_graphs(old, new, only_changes=True)


def review(spec: str, base: str, head: str, objects: ObjectDiff,
           old: Mesh | None, new: Mesh | None) -> Review:  # fmt: skip
    found = Review(spec, base, head, objects, old, new)
    found.warnings = sorted(warnings(old, new, objects), key=lambda w: w.rank)
    return found


def _name(old: Mesh | None, new: Mesh | None) -> str:
    either = new or old
    return either.name if either is not None else "mesh"


# --- warnings ---------------------------------------------------------------------


def _who(graph: MeshGraph, edge: Edge) -> tuple[str, str]:
    """(the caller, the service) of an allow edge, as a reviewer says them."""
    source, target = graph.nodes[edge.source], graph.nodes[edge.target]

    def namespace(node: Node) -> str:
        return graph.groups[node.group].title.removeprefix("namespace ") if node.group else ""

    caller = source.lines[0]
    if source.kind == "serviceaccount":
        caller = f"service account {namespace(source)}/{caller}"
    elif source.kind == "workloads":
        caller = f"every workload in {namespace(source)}"
    return caller, f"{namespace(target)}/{target.lines[0]}"


def _allow_warnings(old: Mesh | None, new: Mesh | None) -> list[Warning]:
    name = _name(old, new)
    before = mesh_graph(old) if old else MeshGraph(name)
    after = mesh_graph(new) if new else MeshGraph(name)
    merged = diff_graphs(before, after)
    found = []
    for edge in merged.edges:
        if edge.kind != "allow" or not edge.change:
            continue
        verb = "may now call" if edge.change == "added" else "may no longer call"
        caller, service = _who(merged, edge)
        found.append(Warning("security", f"allow edge {edge.change}: {caller} {verb} "
                             f"{service} on {edge.label}"))  # fmt: skip
    return found


def _services(mesh: Mesh | None) -> dict[tuple[str, str], Service]:
    return {(s.namespace, s.name): s for s in mesh.services} if mesh else {}


def _split(svc: Service, index: int) -> str:
    return ", ".join(f"{v} {w}%" for v, w in svc.routes[index].split)


def _traffic_warnings(old: Mesh | None, new: Mesh | None) -> list[Warning]:
    found = []
    before, after = _services(old), _services(new)
    for key, svc in after.items():
        prior = before.get(key)
        if prior is None:
            continue
        where = f"{svc.namespace}/{svc.name}"
        old_routes = {route_label(r, i).split(":")[0]: (i, r) for i, r in enumerate(prior.routes)}
        new_routes = {route_label(r, i).split(":")[0]: (i, r) for i, r in enumerate(svc.routes)}
        for name, (i, route) in new_routes.items():
            if name not in old_routes:
                found.append(Warning("traffic", f"route added: {where} {route_label(route, i)} "
                                     f"-> {_split(svc, i)}"))  # fmt: skip
                continue
            j, was = old_routes[name]
            if dict(was.split) != dict(route.split):
                found.append(Warning("traffic", f"weight moved: {where} {name}: "
                                     f"{_split(prior, j)} -> {_split(svc, i)}"))  # fmt: skip
            if was.match != route.match:
                found.append(Warning("traffic", f"match changed: {where} "
                                     f"{route_label(was, j)} -> {route_label(route, i)}"))  # fmt: skip
        for name, (j, was) in old_routes.items():
            if name not in new_routes:
                found.append(Warning("traffic", f"route removed: {where} {route_label(was, j)}"))
    return found


def _spec_warnings(old: Mesh | None, new: Mesh | None) -> list[Warning]:
    if old is None or new is None:
        return []
    found = []
    if old.mtls != new.mtls:
        found.append(Warning("security", f"mTLS: {old.mtls} -> {new.mtls}"))
    for policy, mode in new.admission.policies.items():
        was = old.admission.policies.get(policy, "enforce")
        if was != mode:
            found.append(Warning("security", f"admission policy {policy}: {was} -> {mode}"))
    added = sorted(set(new.admission.allowed_namespaces) - set(old.admission.allowed_namespaces))
    gone = sorted(set(old.admission.allowed_namespaces) - set(new.admission.allowed_namespaces))
    if added:
        found.append(Warning("security", f"allowed namespaces added: {', '.join(added)}"))
    if gone:
        found.append(Warning("security", f"allowed namespaces removed: {', '.join(gone)}"))
    before = {(e.namespace, a) for e in old.admission.exemptions for a in e.annotations}
    after = {(e.namespace, a) for e in new.admission.exemptions for a in e.annotations}
    for ns, annotation in sorted(after - before):
        found.append(Warning("security", f"capture exemption added: {annotation} in {ns}"))
    for ns, annotation in sorted(before - after):
        found.append(Warning("security", f"capture exemption removed: {annotation} in {ns}"))
    return found


def _removal_warnings(objects: ObjectDiff, new: Mesh | None) -> list[Warning]:
    from .unmesh import namespace_removals

    # A removed Namespace: what stays in the cluster, what is pruned with it, what to do.
    found = [
        Warning("destructive", text.removeprefix("warning: "))
        for text in namespace_removals(objects.removed, new)
    ]
    for obj in objects.removed:
        if obj["kind"] == "Service":
            found.append(Warning("destructive", f"{object_ref(obj)} removed"))
    return found


def warnings(old: Mesh | None, new: Mesh | None, objects: ObjectDiff) -> list[Warning]:
    return [
        *_allow_warnings(old, new),
        *_spec_warnings(old, new),
        *_removal_warnings(objects, new),
        *_traffic_warnings(old, new),
    ]


# --- formats ----------------------------------------------------------------------


def text(r: Review) -> str:
    lines = [f"{r.spec} {r.base}..{r.head}: {r.objects.summary()}"]
    lines += [f"warning: {w.category}: {w.message}" for w in r.warnings]
    lines += r.objects.lines()
    return "\n".join(lines) + "\n"


def _code(value: Any) -> str:
    shown = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return f"`{shown}`" if "`" not in shown else f"`` {shown} ``"


def _change_line(path: str, old: Any, new: Any) -> str:
    if old is _ABSENT:
        return f"  - `{path}`: added {_code(new)}"
    if new is _ABSENT:
        return f"  - `{path}`: removed {_code(old)}"
    return f"  - `{path}`: {_code(old)} → {_code(new)}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(r: Review) -> str:
    out = [
        COMMENT_MARKER.format(spec=r.spec),
        f"### meshc diff: `{r.spec}` {r.base}..{r.head}",
        "",
        f"{r.objects.summary()}; {len(r.warnings)} warning{'s' if len(r.warnings) != 1 else ''}",
    ]
    if r.warnings:
        out += ["", "#### Warnings", "", "| | |", "|---|---|"]
        out += [f"| **{w.category}** | {_cell(w.message)} |" for w in r.warnings]
    if r.objects:
        out += ["", "#### Objects", ""]
        out += [f"- **added** `{_label(obj)}`" for obj in r.objects.added]
        for obj, changes in r.objects.changed:
            out.append(f"- **changed** `{_label(obj)}`")
            out += [_change_line(c.path, c.old, c.new) for c in changes]
        out += [f"- **removed** `{_label(obj)}`" for obj in r.objects.removed]
    graph = r.graph()
    if graph.edges:
        out += ["", "#### What changed in the mesh", "",
                "Added edges are green and marked `+`, removed ones red, dashed and marked `-`.",
                "", "```mermaid", mermaid_format.render(graph).rstrip("\n"), "```"]  # fmt: skip
    return "\n".join(out) + "\n"


def _json_change(path: str, old: Any, new: Any) -> dict[str, Any]:
    change: dict[str, Any] = {"path": path}
    if old is not _ABSENT:
        change["old"] = old
    if new is not _ABSENT:
        change["new"] = new
    return change


def as_json(r: Review) -> str:
    def ref(obj: dict[str, Any]) -> dict[str, str]:
        meta = obj["metadata"]
        return {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                "namespace": meta.get("namespace", ""), "name": meta["name"]}  # fmt: skip

    graph = r.graph()
    document = {
        "spec": r.spec,
        "base": r.base,
        "head": r.head,
        "summary": {
            "added": len(r.objects.added),
            "changed": len(r.objects.changed),
            "removed": len(r.objects.removed),
        },
        "warnings": [{"category": w.category, "message": w.message} for w in r.warnings],
        "added": [ref(o) for o in r.objects.added],
        "removed": [ref(o) for o in r.objects.removed],
        "changed": [
            {**ref(o), "changes": [_json_change(c.path, c.old, c.new) for c in changes]}
            for o, changes in r.objects.changed
        ],
        "edges": [
            {
                "change": e.change,
                "kind": e.kind,
                "from": graph.nodes[e.source].lines[0],
                "to": graph.nodes[e.target].lines[0],
                "label": e.label,
            }
            for e in graph.edges
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


FORMATS: dict[str, Callable[[Review], str]] = {"text": text, "markdown": markdown, "json": as_json}
