"""Helpers for the importer's tests: manifests written inline, imported, and looked at."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from meshc.importer import Imported, import_manifests
from meshc.policies.manifests import parse_manifests

Importer = Callable[..., Imported]


@pytest.fixture
def imported() -> Importer:
    def run(text: str, namespace: str = "shop", provider: str | None = None) -> Imported:
        manifests = parse_manifests(textwrap.dedent(text), "in.yaml")
        return import_manifests(manifests, namespace=namespace, provider=provider)

    return run
