"""Gateway API: HTTPRoute and GRPCRoute (a Service parent: the mesh's routes, GAMMA;
a Gateway parent: ingress routes) and Gateway (an ingress entry)."""

from __future__ import annotations

from .draft import Draft
from .inventory import Inventory


def import_gateway_api(inv: Inventory, draft: Draft) -> None:
    return None
