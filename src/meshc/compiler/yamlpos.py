"""Load one YAML document and remember where every value and key stands.

PyYAML's composer already knows each node's position; constructing plain
Python data from the node tree ourselves keeps those positions in a side table
keyed by field path, so later stages can report ``file:line:col`` for any
field without carrying positions through the data itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _Loader = yaml.SafeLoader

from .errors import Problem, join_path

_SCALARS = yaml.constructor.SafeConstructor()
_STR = "tag:yaml.org,2002:str"


@dataclass
class Positions:
    """1-based (line, column) of each value and each mapping key, by field path."""

    values: dict[str, tuple[int, int]] = field(default_factory=dict)
    keys: dict[str, tuple[int, int]] = field(default_factory=dict)

    def of(self, path: str, *, key: bool = False) -> tuple[int, int]:
        """The closest known position: the field itself, else its nearest parent."""
        table = self.keys if key else self.values
        probe = path
        while probe:
            if probe in table:
                return table[probe]
            if key and probe in self.values:
                return self.values[probe]
            probe = _parent(probe)
        return self.values.get("", (1, 1))


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    def __init__(self, filename: str):
        self.filename = filename
        self.positions = Positions()
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: str) -> Any:
        self.positions.values[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self._problem(key_node, path, "YAML merge keys (<<) are not supported")
                    continue
                key = self.build(key_node, path + "\x00key")
                if not isinstance(key, str):
                    self._problem(key_node, path, f"keys must be strings, got {key!r}")
                    key = str(key)
                child = join_path(path, key)
                if key in result:
                    self._problem(key_node, child, f"duplicate key {key!r}")
                self.positions.keys[child] = _mark(key_node)
                result[key] = self.build(value_node, child)
            self.positions.values.pop(path + "\x00key", None)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, join_path(path, i)) for i, item in enumerate(node.value)]
        if node.tag == _STR:  # most scalars: skip the constructor's dispatch
            return node.value
        return _SCALARS.construct_object(node, deep=True)

    def _problem(self, node: yaml.Node, path: str, message: str) -> None:
        line, col = _mark(node)
        self.problems.append(Problem(self.filename, line, col, path, message))


def load_document(text: str, filename: str) -> tuple[Any, Positions, list[Problem]]:
    """Parse exactly one YAML document; problems are returned, never raised."""
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        reason = exc.problem or exc.context or "malformed YAML"
        return None, Positions(), [Problem(filename, line, col, "", f"invalid YAML: {reason}")]
    except yaml.YAMLError as exc:
        return None, Positions(), [Problem(filename, 0, 0, "", f"invalid YAML: {exc}")]
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        return None, Positions(), [Problem(filename, 0, 0, "", "the file is empty")]
    if len(nodes) > 1:
        line, col = _mark(nodes[1])
        return (
            None,
            Positions(),
            [Problem(filename, line, col, "", "expected one YAML document, found several")],
        )
    builder = _Builder(filename)
    try:
        data = builder.build(nodes[0], "")
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        return None, Positions(), [Problem(filename, line, col, "", f"invalid YAML: {exc.problem}")]
    return data, builder.positions, builder.problems
