"""The target interface: one module per mesh, each exposing ``TARGET``.

Adding a mesh is one new module with a class that has a ``name`` and a
``render(mesh, options, report) -> list[objects]`` method, plus one line in
``_MODULES``. An unknown provider is an error, never a fallback.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from .capabilities import Support, support
from .errors import Problem, SpecError
from .model import Mesh
from .objects import Obj, sort_objects

_MODULES = {"istio": "meshc.compiler.istio", "linkerd": "meshc.compiler.linkerd"}


@dataclass(frozen=True)
class RenderOptions:
    linkerd_routing: str = "gateway-api"
    istio_api: str = "v1"
    allow_lossy: bool = False

    def mode(self, target: str) -> str:
        """The routing mode that selects a column of the capability matrix."""
        return self.linkerd_routing if target == "linkerd" else "default"


@dataclass
class Report:
    """Collects what a target could not express exactly (lossless or loud)."""

    mesh: Mesh
    target: str
    options: RenderOptions
    problems: list[Problem] = field(default_factory=list)

    def lossy(self, feature: str, path: str, instead: str) -> None:
        """Record that ``feature`` at spec ``path`` was rendered as ``instead`` (or not at all).

        The capability matrix decides whether that is a warning (approximated)
        or an error (unsupported, unless --allow-lossy).
        """
        level = support(self.target, self.options.mode(self.target), feature)
        if level is Support.EXACT:
            raise AssertionError(f"{feature} is exact on {self.target} but was reported lossy")
        error = level is Support.UNSUPPORTED and not self.options.allow_lossy
        line, col = self.mesh.locate(path)
        qualifier = "not supported" if level is Support.UNSUPPORTED else "approximated"
        self.problems.append(
            Problem(self.mesh.source, line, col, path,
                    f"{qualifier} on {self.target} ({self.options.mode(self.target)}): {instead}"
                    + ("; pass --allow-lossy to render without it" if error else ""),
                    "error" if error else "warning")
        )

    def error(self, path: str, message: str) -> None:
        line, col = self.mesh.locate(path)
        self.problems.append(Problem(self.mesh.source, line, col, path, message))

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]


class Target(Protocol):
    name: ClassVar[str]

    def render(self, mesh: Mesh, options: RenderOptions, report: Report) -> list[Obj]: ...


def get_target(provider: str) -> Target:
    if provider not in _MODULES:
        raise SpecError([Problem("<command line>", 0, 0, "spec.provider",
                                 f"unknown provider {provider!r} (known: {', '.join(_MODULES)})")])
    target: Target = importlib.import_module(_MODULES[provider]).TARGET
    return target


def render(mesh: Mesh, options: RenderOptions, provider: str | None = None) -> tuple[list[Obj], Report]:
    """Render ``mesh``; raise :class:`SpecError` if the target cannot express it."""
    name = provider or mesh.provider
    report = Report(mesh, name, options)
    objects = get_target(name).render(mesh, options, report)
    if report.errors:
        raise SpecError(report.problems)
    return sort_objects(objects), report
