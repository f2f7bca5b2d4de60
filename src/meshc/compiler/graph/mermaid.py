"""The graph as a Mermaid flowchart: GitHub draws it in a comment or a Markdown file.

Namespaces are subgraphs; allow edges are solid (who may call whom, on which
ports), route edges dotted (where a service sends traffic, with the route's
match and weight). In a diff, added nodes and edges are green and marked
``+``, removed ones red, dashed and marked ``-``.
"""

from __future__ import annotations

from .model import Edge, MeshGraph, Node, members

_SHAPES = {
    "service": ('["', '"]'),
    "version": ('(["', '"])'),
    "workloads": ('[/"', '"/]'),
    "serviceaccount": ('[/"', '"/]'),
    "anyone": ('(("', '"))'),
}
_MARK = {"": "", "added": "+ ", "removed": "- "}
_CLASSES = (
    "classDef added stroke:#1a7f37,stroke-width:3px,color:#1a7f37",
    "classDef removed stroke:#cf222e,stroke-width:3px,stroke-dasharray:5 3,color:#cf222e",
)
_LINK_STYLE = {
    "added": "stroke:#1a7f37,stroke-width:3px,color:#1a7f37",
    "removed": "stroke:#cf222e,stroke-width:3px,stroke-dasharray:5 3,color:#cf222e",
}


def escape(text: str) -> str:
    """Text inside a quoted Mermaid label: quotes and the characters Mermaid reads as markup."""
    return (
        text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )


def _node(node: Node) -> str:
    opening, closing = _SHAPES[node.kind]
    label = "<br/>".join(escape(line) for line in node.lines if line)
    return f"{node.id}{opening}{_MARK[node.change]}{label}{closing}"


def _edge(edge: Edge) -> str:
    arrow = "-->" if edge.kind == "allow" else "-.->"
    return f'{edge.source} {arrow}|"{_MARK[edge.change]}{escape(edge.label)}"| {edge.target}'


def render(graph: MeshGraph) -> str:
    lines = ["flowchart LR"]
    groups = members(graph)
    for node in groups.get("", []):
        lines.append(f"  {_node(node)}")
    for gid, group in graph.groups.items():
        title = escape(
            _MARK[group.change] + group.title + ("" if group.meshed else " (not meshed)")
        )
        lines.append(f'  subgraph {gid}["{title}"]')
        lines += [f"    {_node(node)}" for node in groups.get(gid, [])]
        lines.append("  end")
    lines += [f"  {_edge(edge)}" for edge in graph.edges]
    changed_nodes = [n for n in graph.nodes.values() if n.change]
    changed_edges = [(i, e) for i, e in enumerate(graph.edges) if e.change]
    if changed_nodes or changed_edges:
        lines += [f"  {c}" for c in _CLASSES]
        for change in ("added", "removed"):
            ids = [n.id for n in changed_nodes if n.change == change]
            if ids:
                lines.append(f"  class {','.join(ids)} {change}")
            links = [str(i) for i, e in changed_edges if e.change == change]
            if links:
                lines.append(f"  linkStyle {','.join(links)} {_LINK_STYLE[change]}")
    return "\n".join(lines) + "\n"
