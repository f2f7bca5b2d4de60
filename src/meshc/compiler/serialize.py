"""Objects to YAML: byte-stable, in the order the renderer sorted them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

try:
    _Dumper: type = yaml.CSafeDumper
except AttributeError:  # PyYAML built without libyaml
    _Dumper = yaml.SafeDumper


def dump(obj: Any) -> str:
    # Insertion order is Kubernetes' conventional order (apiVersion, kind,
    # metadata, spec), so keys are never sorted here.
    text: str = yaml.dump(
        obj,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
    )
    return text


def dump_all(objects: Iterable[Any]) -> str:
    return "".join(f"---\n{dump(obj)}" for obj in objects)
