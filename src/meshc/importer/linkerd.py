"""Linkerd's configuration."""

from __future__ import annotations

from .draft import Draft
from .inventory import Inventory


def versions(inv: Inventory, draft: Draft) -> None:
    return None


def import_linkerd(inv: Inventory, draft: Draft) -> None:
    return None
