"""The YAML of manifests, read as PyYAML's safe loader reads it, in about half the time.

``meshc check`` spends most of its time per object reading YAML. PyYAML's
libyaml parser composes the nodes in C, but calls back into Python for each
node's tag (matching every plain scalar against the implicit resolvers'
regular expressions) and for path resolvers the safe loader never has; then
its constructor builds the value node by node through generic, deferred
machinery. :class:`Loader` answers each distinct scalar's tag once per process
and skips the path-resolver calls; :func:`construct` builds the plain
documents manifests are (mappings and sequences of scalars with the standard
tags, anchors and aliases shared as PyYAML shares them) directly, and hands
anything else (merge keys, other tags, complex keys, a scalar PyYAML refuses)
to PyYAML's own constructor, so the value, and every error, is exactly PyYAML's
(tests/policies/test_manifest_yaml.py compares them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"

try:
    _Base: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # PyYAML built without libyaml
    _Base = yaml.SafeLoader

# The safe loader's constructors of scalars, by tag (str is taken as it is).
_SCALARS: dict[str, Callable[[Any, Node], Any]] = {
    tag: constructor
    for tag, constructor in yaml.SafeLoader.yaml_constructors.items()
    if tag is not None
    and tag.rpartition(":")[2] in ("null", "bool", "int", "float", "binary", "timestamp")
}
# The tag of each plain scalar seen: resolving it matches regular expressions.
_PLAIN_TAGS: dict[str, str] = {}
_PLAIN_TAGS_KEPT = 200_000
# The value of each (tag, text) of a scalar that is not a string: numbers,
# booleans, nulls, times and bytes, all immutable, so one object serves each.
_SCALAR_VALUES: dict[tuple[str, str], Any] = {}
_UNSEEN = object()
_resolve: Callable[[Any, Any, str, Any], str] = BaseResolver.resolve


class Loader(_Base):  # type: ignore[misc,valid-type]
    """The safe loader (libyaml's when PyYAML has it), resolving tags through a cache."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode:
            if not implicit[0]:
                return self.DEFAULT_SCALAR_TAG
            tag = _PLAIN_TAGS.get(value)
            if tag is None:
                if len(_PLAIN_TAGS) >= _PLAIN_TAGS_KEPT:  # a long-lived process stays bounded
                    _PLAIN_TAGS.clear()
                tag = _PLAIN_TAGS[value] = _resolve(self, kind, value, implicit)
            return tag
        return self.DEFAULT_MAPPING_TAG if kind is MappingNode else self.DEFAULT_SEQUENCE_TAG

    # Path resolvers follow the composer down and up the document; the safe
    # loader has none, so these are no-ops, as C callables: libyaml's
    # composer calls them for every node.
    descend_resolver: Callable[[Any, Any], Any] = {}.get  # (node, index) -> index
    ascend_resolver = ().__len__


# The shortcuts above hold only while the safe loader has no path resolvers
# and its default tags are the standard ones.
assert not Loader.yaml_path_resolvers
assert (Loader.DEFAULT_SCALAR_TAG, Loader.DEFAULT_MAPPING_TAG, Loader.DEFAULT_SEQUENCE_TAG) == (
    _STR,
    _MAP,
    _SEQ,
)


class _Unusual(Exception):
    """A node :func:`construct` leaves to PyYAML's constructor."""


def construct(loader: Loader, node: Node) -> Any:
    """The value of the document ``node``, as ``loader.construct_document(node)`` builds it."""
    try:
        return _Builder(loader).build(node)
    except (_Unusual, RecursionError, yaml.YAMLError):
        # PyYAML's constructor then builds it, or raises the error it raises.
        return loader.construct_document(node)


class _Builder:
    def __init__(self, loader: Loader):
        self.loader = loader
        # Each collection node's value, made before its children: an alias
        # gets the same object, a recursive one included, as from PyYAML.
        self.built: dict[Node, Any] = {}

    def scalar(self, node: Node) -> Any:
        tag = node.tag
        if tag == _STR:
            return node.value
        key = (tag, node.value)
        value = _SCALAR_VALUES.get(key, _UNSEEN)
        if value is _UNSEEN:
            constructor = _SCALARS.get(tag)
            if constructor is None:
                raise _Unusual
            if len(_SCALAR_VALUES) >= _PLAIN_TAGS_KEPT:
                _SCALAR_VALUES.clear()
            value = _SCALAR_VALUES[key] = constructor(self.loader, node)
        return value

    def build(self, node: Node) -> Any:
        cls = node.__class__
        if cls is ScalarNode:
            return self.scalar(node)
        value = self.built.get(node)
        if value is not None:
            return value
        if cls is MappingNode and node.tag == _MAP:
            mapping: dict[Any, Any] = {}
            self.built[node] = mapping
            for key, item in node.value:
                if key.__class__ is not ScalarNode:
                    raise _Unusual  # a complex key: PyYAML says it is unhashable
                mapping[self.scalar(key)] = self.build(item)
            return mapping
        if cls is SequenceNode and node.tag == _SEQ:
            sequence: list[Any] = []
            self.built[node] = sequence
            sequence.extend([self.build(item) for item in node.value])
            return sequence
        raise _Unusual
