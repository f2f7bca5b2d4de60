"""Problems with a position, and the one place they become text.

A :class:`Problem` is a small value object (file, line, column, field path,
message); it is formatted late, so the same problem can be printed for people
(``file:line:col: path: message``) or as a GitHub annotation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Level = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int  # 1-based; 0 when the problem concerns the whole file
    column: int  # 1-based; 0 when unknown
    path: str  # dotted field path, e.g. "spec.services[0].routes[0].split"
    message: str
    level: Level = field(default="error", compare=False)

    def format(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}:{self.column}" if self.column else f":{self.line}"
        prefix = "warning: " if self.level == "warning" else ""
        subject = f"{self.path}: " if self.path else ""
        return f"{where}: {prefix}{subject}{self.message}"

    def github(self) -> str:
        kind = "error" if self.level == "error" else "warning"
        loc = f"file={self.file}"
        if self.line:
            loc += f",line={self.line}"
            if self.column:
                loc += f",col={self.column}"
        subject = f"{self.path}: " if self.path else ""
        return f"::{kind} {loc}::{subject}{self.message}"


class SpecError(Exception):
    """The spec cannot be compiled; carries every problem found, sorted by position."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(set(problems))
        super().__init__(self.format())

    def format(self) -> str:
        return "\n".join(p.format() for p in self.problems)


def join_path(base: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else key
