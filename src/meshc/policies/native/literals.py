"""Constant values between Rego, Python and CEL.

:func:`parse_rego_term` reads a Rego constant (objects, sets, arrays,
strings, numbers, booleans, null) from the source, so a rule such as
``iptables_flags := {...}`` is written once, in Rego, and its CEL form is its
value. :func:`cel_literal` writes a value as a CEL literal that the API
server's type checker accepts: Kubernetes compiles CEL with homogeneous
aggregate literals, so the elements of a list or map whose values differ in
type are each wrapped in ``dyn()``. A Rego set becomes a sorted CEL list
(CEL's ``in`` tests list membership).
"""

from __future__ import annotations

import json
import math
from typing import Any

_WS = " \t\r\n"


def parse_rego_term(text: str, start: int = 0) -> tuple[Any, int]:
    """The constant term at ``text[start:]`` and the index just past it."""
    value, end = _term(text, _skip(text, start))
    return value, end


def _skip(text: str, i: int) -> int:
    while i < len(text):
        if text[i] in _WS:
            i += 1
        elif text[i] == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
        else:
            break
    return i


def _term(text: str, i: int) -> tuple[Any, int]:
    if i >= len(text):
        raise ValueError("the constant ends early")
    c = text[i]
    if c == '"':
        return _string(text, i)
    if c == "`":
        end = text.index("`", i + 1)
        return text[i + 1 : end], end + 1
    if c == "[":
        items, end = _items(text, i + 1, "]")
        return [v for v, _ in items], end
    if c == "{":
        return _braces(text, i + 1)
    for word, value in (("true", True), ("false", False), ("null", None)):
        if text.startswith(word, i) and not (text[i + len(word) : i + len(word) + 1].isalnum()):
            return value, i + len(word)
    j = i
    while j < len(text) and (text[j].isdigit() or text[j] in "+-.eE"):
        j += 1
    if j == i:
        raise ValueError(f"not a constant at {text[i : i + 20]!r}")
    number = text[i:j]
    return (float(number) if any(ch in number for ch in ".eE") else int(number)), j


def _string(text: str, i: int) -> tuple[str, int]:
    j = i + 1
    while text[j] != '"':
        j += 2 if text[j] == "\\" else 1
    value: str = json.loads(text[i : j + 1])
    return value, j + 1


def _items(text: str, i: int, close: str) -> tuple[list[tuple[Any, Any]], int]:
    """Comma-separated ``value`` or ``key: value`` items up to ``close``."""
    items: list[tuple[Any, Any]] = []
    i = _skip(text, i)
    while text[i] != close:
        value, i = _term(text, i)
        i = _skip(text, i)
        if text[i] == ":":
            key = value
            value, i = _term(text, _skip(text, i + 1))
            items.append((value, key))
            i = _skip(text, i)
        else:
            items.append((value, _NO_KEY))
        if text[i] == ",":
            i = _skip(text, i + 1)
        elif text[i] != close:
            raise ValueError(f"expected ',' or {close!r} at {text[i : i + 20]!r}")
    return items, i + 1


_NO_KEY = object()


def _braces(text: str, i: int) -> tuple[Any, int]:
    items, end = _items(text, i, "}")
    if items and all(k is not _NO_KEY for _, k in items):
        return {k: v for v, k in items}, end
    if any(k is not _NO_KEY for _, k in items):
        raise ValueError("a constant mixes object and set items")
    if not items:
        return {}, end  # Rego's {} is an empty object
    return sorted((v for v, _ in items), key=_sort_key), end


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


# --- CEL ---------------------------------------------------------------------------------


def cel_string(value: str) -> str:
    """A CEL string literal for ``value`` (single-quoted, every control character escaped)."""
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "map"
    raise TypeError(f"no CEL literal for {type(value).__name__}")


def cel_literal(value: Any) -> str:
    """``value`` (JSON-like) as a CEL literal the API server's checker accepts."""
    kind = _type(value)
    if kind == "null":
        return "null"
    if kind == "bool":
        return "true" if value else "false"
    if kind == "int":
        return str(value)
    if kind == "double":
        if not math.isfinite(value):
            raise ValueError("CEL has no literal for a non-finite number")
        return repr(float(value))
    if kind == "string":
        return cel_string(value)
    if kind == "list":
        items = list(value)
        return "[" + ", ".join(_element(items, v) for v in items) + "]"
    entries = sorted(value.items())
    values = [v for _, v in entries]
    return "{" + ", ".join(f"{cel_string(str(k))}: {_element(values, v)}" for k, v in entries) + "}"


def _element(siblings: list[Any], value: Any) -> str:
    """An element, wrapped in dyn() unless every sibling is a scalar of its type."""
    kinds = {_type(v) for v in siblings}
    if len(kinds) == 1 and kinds <= {"bool", "int", "double", "string"}:
        return cel_literal(value)
    return f"dyn({cel_literal(value)})"
