"""Build Mesh specs in tests: the quickstart, edited, written where needed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from .paths import EXAMPLES

QUICKSTART = EXAMPLES / "quickstart" / "mesh.yaml"


def example_specs() -> list[Path]:
    return sorted(EXAMPLES.glob("*/mesh.yaml"))


def quickstart() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(QUICKSTART.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def write_spec(directory: Path, data: dict[str, Any] | str, name: str = "mesh.yaml") -> Path:
    path = directory / name
    path.write_text(
        data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8"
    )
    return path
