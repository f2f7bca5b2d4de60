"""Kubernetes manifests read for ``meshc check``: each object with its file and line."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

try:
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # PyYAML built without libyaml
    _Loader = yaml.SafeLoader

SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"


class ManifestError(Exception):
    """A manifest cannot be read; the message names the file (and line)."""


@dataclass(frozen=True)
class Manifest:
    file: str
    line: int  # 1-based line where the object's document starts
    obj: dict[str, Any]

    @property
    def is_review(self) -> bool:
        """An AdmissionReview kept as a sample is judged exactly as written."""
        return self.obj.get("kind") == "AdmissionReview"


def load_manifests(paths: Sequence[str]) -> list[Manifest]:
    """Every object in ``paths`` (files, directories searched for YAML/JSON, ``-``)."""
    found: list[Manifest] = []
    for path in paths:
        for name, text in _sources(path):
            found.extend(parse_manifests(text, name))
    return found


def _sources(path: str) -> Iterator[tuple[str, str]]:
    if path == STDIN:
        yield "<stdin>", sys.stdin.read()
        return
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in SUFFIXES)
    elif p.exists():
        files = [p]
    else:
        raise ManifestError(f"{path}: no such file or directory")
    for f in files:
        try:
            yield str(f), f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{f}: cannot read: {exc}") from exc


def parse_manifests(text: str, name: str) -> list[Manifest]:
    """The objects of a multi-document YAML text; a ``List`` contributes its items."""
    found: list[Manifest] = []
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            assert node is not None  # check_node() said there is one
            line = node.start_mark.line + 1
            doc = loader.construct_document(node)
            found.extend(_objects(doc, name, line))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(f"{where}: not valid YAML: {problem}") from exc
    finally:
        loader.dispose()
    return found


def _objects(doc: Any, name: str, line: int) -> list[Manifest]:
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise ManifestError(
            f"{name}:{line}: expected a Kubernetes object, got {type(doc).__name__}"
        )
    if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
        items = doc.get("items") or []
        return [m for item in items for m in _objects(item, name, line)]
    missing = [key for key in ("apiVersion", "kind") if not doc.get(key)]
    if missing:
        raise ManifestError(f"{name}:{line}: not a Kubernetes object: missing {', '.join(missing)}")
    return [Manifest(name, line, doc)]
