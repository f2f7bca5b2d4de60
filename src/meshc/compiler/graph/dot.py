"""The graph in Graphviz's DOT language, for documentation built with Graphviz.

Namespaces are clusters; allow edges are solid, route edges dashed; in a
diff, added elements are green and removed ones red and dashed.
"""

from __future__ import annotations

from .model import Edge, MeshGraph, Node, members

_SHAPES = {
    "service": "box",
    "version": "box",
    "workloads": "parallelogram",
    "serviceaccount": "parallelogram",
    "anyone": "ellipse",
}
_COLOR = {"": "", "added": "#1a7f37", "removed": "#cf222e"}
_MARK = {"": "", "added": "+ ", "removed": "- "}


def quote(text: str) -> str:
    """A DOT double-quoted string; ``\\n`` in ``text`` stays a line break."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**values: str) -> str:
    return "[" + ", ".join(f"{k}={v}" for k, v in values.items() if v) + "]"


def _style(change: str, base: str = "") -> dict[str, str]:
    styles = [s for s in (base, "dashed" if change == "removed" else "", "bold" if change else "")
              if s]  # fmt: skip
    color = _COLOR[change]
    return {
        "style": quote(",".join(styles)) if styles else "",
        "color": quote(color) if color else "",
        "fontcolor": quote(color) if color else "",
    }


def _node(node: Node) -> str:
    label = _MARK[node.change] + "\n".join(line for line in node.lines if line)
    base = "rounded" if node.kind == "version" else ""
    return f"{quote(node.id)} " + _attrs(
        label=quote(label), shape=_SHAPES[node.kind], **_style(node.change, base)
    )


def _edge(edge: Edge) -> str:
    base = "dashed" if edge.kind == "route" else ""
    return f"{quote(edge.source)} -> {quote(edge.target)} " + _attrs(
        label=quote(_MARK[edge.change] + edge.label), **_style(edge.change, base)
    )


def render(graph: MeshGraph) -> str:
    lines = [
        f"digraph {quote(graph.name)} {{",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    groups = members(graph)
    lines += [f"  {_node(node)};" for node in groups.get("", [])]
    for gid, group in graph.groups.items():
        title = _MARK[group.change] + group.title + ("" if group.meshed else " (not meshed)")
        lines.append(f"  subgraph {quote('cluster_' + gid)} {{")
        lines.append(f"    label={quote(title)};")
        if not group.meshed:
            lines.append('    style="dashed";')
        lines += [f"    {_node(node)};" for node in groups.get(gid, [])]
        lines.append("  }")
    lines += [f"  {_edge(edge)};" for edge in graph.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"
