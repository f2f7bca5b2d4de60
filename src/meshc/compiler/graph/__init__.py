"""The mesh as a picture: who may call whom, where traffic goes.

:func:`~.model.mesh_graph` turns a spec into a :class:`~.model.MeshGraph`
(namespaces as groups, services and their versions, routes, allow edges);
one module per output format draws it: Mermaid (the default: GitHub renders
it in a pull-request comment), DOT, and SVG laid out by grandalf.
"""

from __future__ import annotations

from .model import Edge, Group, MeshGraph, Node, diff_graphs, mesh_graph

__all__ = ["Edge", "Group", "MeshGraph", "Node", "diff_graphs", "mesh_graph"]
