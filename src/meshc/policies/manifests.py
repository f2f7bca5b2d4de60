"""Kubernetes manifests read for ``meshc check``: each object with its file and line.

Two readers over one parser:

- :func:`load_manifests` (and :func:`parse_manifests` for one text) is strict:
  every document must be a Kubernetes object, or :class:`ManifestError` says
  which one is not. For input that is only manifests (samples, a ``kubectl
  get -o yaml`` dump).
- :func:`scan_manifests` reads a real repository the way ``meshc check``
  does: it skips what is not a Kubernetes object to apply (Helm charts and
  their templates, kustomize's build files and patches, CI files, package
  metadata, documents without ``apiVersion`` and ``kind``), saying for each
  what was skipped and why (:class:`Skipped`), and reads everything else.
  A path that does not exist, a directory without a YAML or JSON file, a
  file that cannot be read and YAML that does not parse (outside a template)
  are still errors.

A :class:`Manifest` keeps the YAML node of its object, so a finding can be
placed on the line of the field it names (:meth:`Manifest.line_of`).
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .manifest_yaml import Loader, construct

SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"
# kustomize's build files (kubectl kustomize reads the first it finds).
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
KUSTOMIZE_GROUP = "kustomize.config.k8s.io"


class ManifestError(Exception):
    """A manifest cannot be read; the message names the file (and line)."""


@dataclass(frozen=True)
class Manifest:
    file: str
    line: int  # 1-based line where the object's document starts
    obj: dict[str, Any]
    # The object's YAML node, for the line of a field (None: only the start is known).
    node: yaml.Node | None = field(default=None, compare=False, repr=False)

    @property
    def is_review(self) -> bool:
        """An AdmissionReview kept as a sample is judged exactly as written."""
        return self.obj.get("kind") == "AdmissionReview"

    def line_of(self, path: str) -> int:
        """The line of the field at ``path`` (as violations write it:
        ``spec.template.metadata.labels["app"]``, ``spec.containers[0].args``), or of
        the nearest enclosing field the manifest has; the object's start without a node.
        For an AdmissionReview, ``path`` is within the object under review."""
        if self.node is None:
            return self.line
        node = self.node
        if self.is_review:
            request = _child(node, "request")
            operation = _scalar(_child(request, "operation")) if request is not None else None
            found = _child(request, "oldObject" if operation == "DELETE" else "object")
            if found is None:
                return self.line
            node = found
        return field_line(node, path) or self.line


@dataclass(frozen=True)
class Skipped:
    """A file (``line`` 0) or one document of it that is not a Kubernetes object to apply."""

    file: str
    line: int
    reason: str

    def format(self) -> str:
        """``skipped FILE[:LINE]: why``: the word first, so that no problem matcher
        (the GitHub action's reads ``file:line: message``) takes it for an error."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"skipped {where}: {self.reason}"


@dataclass
class Scan:
    """What :func:`scan_manifests` read."""

    manifests: list[Manifest] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files: int = 0  # files read

    @property
    def files_skipped(self) -> int:
        """Files none of whose documents was read as an object."""
        with_objects = {m.file for m in self.manifests}
        return len({s.file for s in self.skipped} - with_objects)


def load_manifests(paths: Sequence[str]) -> list[Manifest]:
    """Every object in ``paths`` (files, directories searched for YAML/JSON, ``-``); every
    document must be one."""
    found: list[Manifest] = []
    for path in paths:
        for name, text in _sources(path):
            found.extend(parse_manifests(text, name))
    return found


def parse_manifests(text: str, name: str) -> list[Manifest]:
    """The objects of a multi-document YAML text; a ``List`` contributes its items."""
    found: list[Manifest] = []
    for line, node, doc in _documents(text, name):
        found.extend(_objects(doc, node, name, line, None))
    return found


def scan_manifests(paths: Sequence[str]) -> Scan:
    """Every Kubernetes object in ``paths``, and what was skipped (module docstring)."""
    _forget()
    scan = Scan()
    for path in paths:
        if path == "":
            raise ManifestError("an empty path: name a file, a directory or '-'")
        for name, text in _sources(path, required=True):
            scan.files += 1
            _scan_file(scan, name, text)
    return scan


def listed_files(paths: Sequence[str]) -> list[str] | None:
    """The files :func:`scan_manifests` reads for ``paths``, in its order, so that
    :func:`scan_files` can read them in shares; None when it reads standard input, or
    when a path is not usable (:func:`scan_manifests` says why, in its turn)."""
    files: list[str] = []
    for path in paths:
        if path in ("", STDIN):
            return None
        try:
            files += _listed(path, required=True)
        except ManifestError:
            return None
    return files


def scan_files(files: Sequence[str]) -> Scan:
    """:func:`scan_manifests` of files :func:`listed_files` listed (a share of them, or all)."""
    _forget()
    scan = Scan()
    for name in files:
        scan.files += 1
        _scan_file(scan, name, _read(name))
    return scan


def _forget() -> None:
    for cached in (_chart_of, _kustomization_in, _patch_files, _patch_listers):
        cached.cache_clear()  # files may have changed since the last scan in this process


# --- reading -----------------------------------------------------------------------------


def _sources(path: str, required: bool = False) -> Iterator[tuple[str, str]]:
    if path == STDIN:
        yield "<stdin>", sys.stdin.read()
        return
    for name in _listed(path, required):
        yield name, _read(name)


def _listed(path: str, required: bool) -> list[str]:
    """The files to read for ``path`` (a file or a directory), in order."""
    p = Path(path)
    if p.is_dir():
        files = _files_below(str(p))
        if required and not files:
            raise ManifestError(f"{path}: no YAML or JSON files in this directory")
        return files
    if p.exists():
        return [str(p)]
    raise ManifestError(f"{path}: no such file or directory")


def _files_below(root: str) -> list[str]:
    """The YAML and JSON files below ``root``, outside any ``.git``, in the order of their
    paths' components (pathlib's order), as ``root``'s ``rglob("*")`` would name them:
    directories entered but not through symlinks, files taken through them.

    One ``scandir`` a directory, and each entry's type from it: listing a repository of
    thousands of manifests with pathlib cost tens of milliseconds before the first read.
    """
    found: list[tuple[tuple[str, ...], str]] = []

    def walk(directory: str, parts: tuple[str, ...]) -> None:
        try:
            with os.scandir(directory) as listing:
                entries = list(listing)
        except PermissionError:  # as rglob: a directory it cannot list holds nothing
            return
        for entry in entries:
            if entry.name == ".git":
                continue
            name = entry.name if directory == "." else os.path.join(directory, entry.name)
            try:
                if entry.is_dir(follow_symlinks=False):
                    walk(name, (*parts, entry.name))
                elif os.path.splitext(entry.name)[1] in SUFFIXES and entry.is_file():
                    found.append(((*parts, entry.name), name))
            except OSError:  # gone, or a loop of symlinks: not a file to read
                continue

    walk(root, ())
    found.sort(key=lambda item: item[0])
    return [name for _, name in found]


def _read(name: str) -> str:
    try:
        with open(name, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{name}: cannot read: {exc}") from exc


def _documents(text: str, name: str) -> Iterator[tuple[int, yaml.Node, Any]]:
    """(start line, node, value) of each document; ManifestError for YAML that does not parse."""
    loader = Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            assert node is not None  # check_node() said there is one
            yield node.start_mark.line + 1, node, construct(loader, node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(f"{where}: not valid YAML: {problem}") from exc
    finally:
        loader.dispose()


def _objects(
    doc: Any, node: yaml.Node | None, name: str, line: int, skipped: list[Skipped] | None
) -> list[Manifest]:
    """The objects of one document. Strict (``skipped`` None): anything else raises;
    otherwise it is recorded in ``skipped``."""
    if doc is None:
        return []
    if not isinstance(doc, dict):
        reason = f"expected a Kubernetes object, got {type(doc).__name__}"
        if skipped is None:
            raise ManifestError(f"{name}:{line}: {reason}")
        skipped.append(Skipped(name, line, f"a {type(doc).__name__}, not a Kubernetes object"))
        return []
    if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
        items_node = _child(node, "items")
        found: list[Manifest] = []
        for i, item in enumerate(doc.get("items") or []):
            item_node = _item(items_node, i)
            item_line = item_node.start_mark.line + 1 if item_node is not None else line
            found += _objects(item, item_node, name, item_line, skipped)
        return found
    missing = [key for key in ("apiVersion", "kind") if not doc.get(key)]
    if missing:
        if skipped is None:
            raise ManifestError(
                f"{name}:{line}: not a Kubernetes object: missing {', '.join(missing)}"
            )
        skipped.append(Skipped(name, line, f"not a Kubernetes object (no {' or '.join(missing)})"))
        return []
    if skipped is not None and str(doc["apiVersion"]).startswith(KUSTOMIZE_GROUP + "/"):
        skipped.append(Skipped(name, line, _kustomize_reason(name)))
        return []
    return [Manifest(name, line, doc, node)]


# --- what a repository holds besides manifests -----------------------------------------------

# A Go template action: Helm's, or any other templating a repository renders first.
_TEMPLATE = re.compile(r"\{\{.*?\}\}", re.DOTALL)


def _scan_file(scan: Scan, name: str, text: str) -> None:
    path = Path(name)
    reason = _whole_file_reason(path) if name != "<stdin>" else None
    if reason is not None:
        scan.skipped.append(Skipped(name, 0, reason))
        return
    try:
        documents = list(_documents(text, name))
    except ManifestError as exc:
        cause = exc.__cause__
        if _TEMPLATE.search(text):
            scan.skipped.append(
                Skipped(
                    name,
                    0,
                    "a template ({{ }}), not YAML until it is "
                    "rendered: render it and check the output, e.g. "
                    "`... | meshc check --spec SPEC -`",
                )
            )
            return
        if isinstance(cause, yaml.constructor.ConstructorError):
            scan.skipped.append(
                Skipped(
                    name,
                    0,
                    f"uses YAML tags no Kubernetes object has "
                    f"({getattr(cause, 'problem', '') or cause})",
                )
            )
            return
        raise
    for line, node, doc in documents:
        scan.manifests.extend(_objects(doc, node, name, line, scan.skipped))


def _whole_file_reason(given: Path) -> str | None:
    """Why a file is skipped before it is read, or None."""
    path = given.absolute()
    chart = _chart_of(path.parent)
    if chart is not None:
        inside = path.relative_to(chart).parts
        if inside[0] == "crds":
            return None  # plain CustomResourceDefinitions, installed as they are
        if inside[0] == "templates" or (len(inside) > 2 and inside[0] == "charts"):
            what = "a template of the Helm chart"
        elif path.name == "Chart.yaml":
            what = "the metadata of the Helm chart"
        elif path.name.startswith("values"):
            what = "values of the Helm chart"
        else:
            what = "a file of the Helm chart"
        return (
            f"{what} {_shown(chart)}: Helm renders the objects; check them with "
            f"`helm template {_shown(chart)} | meshc check --spec SPEC -`"
        )
    if path.name in KUSTOMIZATION_FILES:
        return _kustomize_reason(str(given))
    patched_by = _kustomize_patch_of(path)
    if patched_by is not None:
        return (
            f"a kustomize patch (listed in {_shown(patched_by)}), not a whole object: check "
            f"the build, `kubectl kustomize {_shown(patched_by.parent)} | meshc check "
            f"--spec SPEC -`"
        )
    return None


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it."""
    try:
        return str(path.relative_to(Path.cwd())) or "."
    except ValueError:
        return str(path)


def _kustomize_reason(name: str) -> str:
    directory = Path(name).parent
    return (
        f"kustomize's build file: the resources it lists are checked as files; for the "
        f"objects with its patches applied, `kubectl kustomize {directory} | meshc check "
        f"--spec SPEC -`"
    )


@functools.cache
def _chart_of(directory: Path) -> Path | None:
    """The Helm chart ``directory`` is in (the nearest with a Chart.yaml), absolute."""
    if (directory / "Chart.yaml").is_file():
        return directory
    return None if directory == directory.parent else _chart_of(directory.parent)


@functools.cache
def _kustomization_in(directory: Path) -> Path | None:
    for build_file in KUSTOMIZATION_FILES:
        if (directory / build_file).is_file():
            return directory / build_file
    return None


def _kustomize_patch_of(path: Path) -> Path | None:
    """The kustomization of ``path``'s directory or a parent's that lists it as a patch."""
    for kustomization in _patch_listers(path.parent):
        if path.resolve() in _patch_files(kustomization):
            return kustomization
    return None


@functools.cache
def _patch_listers(directory: Path) -> tuple[Path, ...]:
    """The kustomizations in ``directory`` and above it that list patches, nearest first:
    found once a directory, not once a file."""
    own = _kustomization_in(directory)
    here = (own,) if own is not None and _patch_files(own) else ()
    return here if directory == directory.parent else here + _patch_listers(directory.parent)


@functools.cache
def _patch_files(kustomization: Path) -> frozenset[Path]:
    try:
        data = yaml.load(kustomization.read_text(encoding="utf-8"), Loader=Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return frozenset()
    if not isinstance(data, dict):
        return frozenset()
    entries: list[Any] = []
    for key in ("patchesStrategicMerge", "patches", "patchesJson6902"):
        value = data.get(key)
        if isinstance(value, list):
            entries += value
    base = kustomization.parent
    found = set()
    for entry in entries:
        ref = entry.get("path") if isinstance(entry, dict) else entry
        if isinstance(ref, str) and "\n" not in ref:
            found.add((base / ref).resolve())
    return frozenset(found)


# --- the line of a field ---------------------------------------------------------------------

_SEGMENT = re.compile(r'\.?([^.\[\]"]+)|\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]')


def path_segments(path: str) -> list[str | int]:
    """``a.b["c.d"][0]`` -> ``["a", "b", "c.d", 0]``."""
    found: list[str | int] = []
    for match in _SEGMENT.finditer(path):
        name, key, index = match.groups()
        if index is not None:
            found.append(int(index))
        else:
            found.append(name if name is not None else key)
    return found


def field_line(node: yaml.Node, path: str) -> int:
    """The line of the deepest field of ``path`` that ``node`` has (0 when none)."""
    line = 0
    current: yaml.Node | None = node
    for segment in path_segments(path):
        if isinstance(segment, int):
            current = _item(current, segment)
            if current is None:
                break
            line = current.start_mark.line + 1
            continue
        key = _key(current, segment)
        if key is None:
            break
        line = key.start_mark.line + 1
        current = _child(current, segment)
    return line


def _key(node: yaml.Node | None, name: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == name:
                return key
    return None


def _child(node: yaml.Node | None, name: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == name:
                return value  # type: ignore[no-any-return]
    return None


def _item(node: yaml.Node | None, index: int) -> yaml.Node | None:
    if isinstance(node, yaml.SequenceNode) and 0 <= index < len(node.value):
        return node.value[index]  # type: ignore[no-any-return]
    return None


def _scalar(node: yaml.Node | None) -> str | None:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None
