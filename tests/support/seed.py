"""The manifests of the seed document (the Istio and Linkerd quickstarts)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import yaml

from .paths import SEED


@cache
def seed_objects() -> tuple[dict[str, Any], ...]:
    text = SEED.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    # The Linkerd app is embedded in a shell heredoc.
    blocks += re.findall(r"<<'YAML'\n(.*?)\nYAML", text, flags=re.DOTALL)
    return tuple(doc for block in blocks for doc in yaml.safe_load_all(block) if doc)


def seed_object(kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    for obj in seed_objects():
        meta = obj["metadata"]
        if (
            obj["kind"] == kind
            and meta["name"] == name
            and (namespace is None or meta.get("namespace") == namespace)
        ):
            return obj
    raise LookupError(f"the seed has no {kind} {namespace}/{name}")
