"""The graph formats, by name."""

from __future__ import annotations

from collections.abc import Callable

from . import dot, mermaid, svg
from .model import MeshGraph

FORMATS: dict[str, Callable[[MeshGraph], str]] = {
    "mermaid": mermaid.render,
    "dot": dot.render,
    "svg": svg.render,
}
