"""The target interface: one module (or package) per mesh, each exposing ``TARGET``.

A target is found by its provider's name: ``meshc.compiler.targets.<name>``,
the compiler side of the provider profile ``meshc.providers.<name>``. Targets
import this interface and the shared builders, never each other. An unknown
provider is an error, never a fallback.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar, Protocol

from meshc import providers
from meshc.providers import Profile, Support

from ..capabilities import support
from ..errors import Problem, SpecError
from ..model import Mesh, Service
from ..objects import Obj, sort_objects
from ..overrides import apply_overrides


@dataclass(frozen=True)
class RenderOptions:
    """How to render: each target's own choices, and whether lossy features may render.

    ``choices`` maps ``<provider>-<option>`` (as the command line spells it,
    e.g. ``linkerd-routing``) to a value; an option not given takes its
    profile's default.
    """

    choices: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    allow_lossy: bool = False

    @classmethod
    def of(cls, *, allow_lossy: bool = False, **choices: str) -> RenderOptions:
        """Options from keywords spelled like the flags: ``of(linkerd_routing="smi")``."""
        return cls({k.replace("_", "-"): v for k, v in choices.items()}, allow_lossy)

    def option(self, provider: str, name: str, settings: Mapping[str, object] | None = None) -> str:
        """The option's value: the command line's, else the spec's own (``settings``:
        spec.<provider>, where the profile's settings offer the same name), else the default."""
        profile = providers.get(provider)
        for option in profile.render_options:
            if option.name == name:
                given = (settings or {}).get(name)
                return (
                    self.choices.get(f"{provider}-{name}")
                    or (given if isinstance(given, str) else None)
                    or option.default
                )
        raise KeyError(f"{provider} has no render option {name!r}")

    def mode(self, provider: str, settings: Mapping[str, object] | None = None) -> str:
        """The routing mode that selects ``provider``'s column of the capability matrix."""
        modes = providers.get(provider).routing_modes()
        return self.option(provider, "routing", settings) if modes != ("default",) else "default"


@dataclass
class Report:
    """Collects what a target could not express exactly (lossless or loud)."""

    mesh: Mesh
    target: str
    options: RenderOptions
    problems: list[Problem] = field(default_factory=list)
    # A spec field rendered into several objects (one per port) is reported once.
    _seen: set[Problem] = field(default_factory=set, repr=False)
    # The capability column of what is being rendered, when it is not the routing mode's:
    # a namespace on another data plane (Istio ambient) has its own column.
    _column: str | None = field(default=None, repr=False)

    def mode(self) -> str:
        """The capability column the features rendered now are judged by."""
        if self._column is not None:
            return self._column
        return self.options.mode(self.target, self.mesh.settings_for(self.target))

    @contextmanager
    def dataplane(self, name: str) -> Iterator[None]:
        """Judge what is rendered inside the block by data plane ``name``'s column (the
        profile's default data plane: the routing mode's column)."""
        planes = providers.get(self.target).dataplanes
        before = self._column
        self._column = name if planes and name != planes[0] else None
        try:
            yield
        finally:
            self._column = before

    def _add(self, problem: Problem) -> None:
        if problem not in self._seen:
            self._seen.add(problem)
            self.problems.append(problem)

    def lossy(self, feature: str, path: str, instead: str) -> None:
        """Record that ``feature`` at spec ``path`` was rendered as ``instead`` (or not at all).

        The capability matrix decides whether that is a warning (approximated)
        or an error (unsupported, unless --allow-lossy).
        """
        mode = self.mode()
        level = support(self.target, mode, feature)
        if level is Support.EXACT:
            raise AssertionError(f"{feature} is exact on {self.target} but was reported lossy")
        error = level is Support.UNSUPPORTED and not self.options.allow_lossy
        line, col = self.mesh.locate(path)
        qualifier = "not supported" if level is Support.UNSUPPORTED else "approximated"
        self._add(
            Problem(
                self.mesh.source,
                line,
                col,
                path,
                f"{qualifier} on {self.target} ({mode}): {instead}"
                + ("; pass --allow-lossy to render without it" if error else ""),
                "error" if error else "warning",
            )
        )

    def warning(self, path: str, message: str) -> None:
        """A caveat of something rendered because the spec or an option asked for it
        explicitly (an opt-in the capability matrix names)."""
        line, col = self.mesh.locate(path)
        mode = self.mode()
        self._add(
            Problem(
                self.mesh.source,
                line,
                col,
                path,
                f"on {self.target} ({mode}): {message}",
                "warning",
            )
        )

    def error(self, path: str, message: str) -> None:
        line, col = self.mesh.locate(path)
        self._add(Problem(self.mesh.source, line, col, path, message))

    def note(self, path: str, message: str) -> None:
        """Something the render did that its reader must see (an override applied)."""
        line, col = self.mesh.locate(path)
        self.problems.append(Problem(self.mesh.source, line, col, path, message, "warning"))

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]


class Target(Protocol):
    profile: ClassVar[Profile]

    def render(self, mesh: Mesh, options: RenderOptions, report: Report) -> list[Obj]: ...


def get_target(provider: str) -> Target:
    try:
        profile = providers.get(provider)
    except KeyError as exc:
        raise SpecError(
            [Problem("<command line>", 0, 0, "spec.provider", str(exc.args[0]))]
        ) from None
    target: Target = importlib.import_module(f"{__name__}.{profile.name}").TARGET
    return target


def render(
    mesh: Mesh, options: RenderOptions, provider: str | None = None
) -> tuple[list[Obj], Report]:
    """Render ``mesh``; raise :class:`SpecError` if the target cannot express it."""
    name = provider or mesh.provider
    report = Report(mesh, name, options)
    objects = get_target(name).render(mesh, options, report)
    _report_revisions(mesh, report)
    _report_dataplanes(mesh, report)
    objects = apply_overrides(mesh, objects, report, name)
    if report.errors:
        raise SpecError(report.problems)
    return sort_objects(objects), report


def gives_no_retries(svc: Service) -> bool:
    """Whether the spec gives ``svc``'s requests no retries: none on the service, and not
    one on each of its routes (a redirect's needs none)."""
    return svc.retries is None and not (
        svc.routes and all(r.retries is not None or r.redirect is not None for r in svc.routes)
    )


def report_retried_by_default(
    report: Report, silent: list[Service], default: str, retries: str
) -> None:
    """One warning for the services (``silent``) a mesh's ``default`` policy retries
    (``retries``) though the spec gives them none, which on Linkerd means no retries."""
    if not silent:
        return
    shown = ", ".join(f"{s.namespace}/{s.name}" for s in silent[:3])
    more = f" and {len(silent) - 3} more" if len(silent) > 3 else ""
    report.lossy(
        "services.retries.omitted",
        "spec.services",
        f"{shown}{more} give no retries, so {default} applies ({retries}), while Linkerd retries "
        "nothing; give retries (attempts: 0 for none) to mean the same on every mesh",
    )


def _report_revisions(mesh: Mesh, report: Report) -> None:
    """A revision the spec names, rendered for a mesh that has none (``--provider``)."""
    profile = providers.get(report.target)
    if profile.revisions:
        return
    instead = f"{profile.title} has no control-plane revisions; not rendered"
    if mesh.revision is not None:
        report.lossy("revision", "spec.revision", instead)
    for ns in mesh.namespaces:
        if ns.revision is not None and ns.revision != mesh.revision:
            report.lossy("revision", f"{ns.path}.revision", instead)


def _report_dataplanes(mesh: Mesh, report: Report) -> None:
    """A data plane the spec names, rendered for a mesh without it (``--provider``)."""
    profile = providers.get(report.target)
    default = profile.dataplanes[0] if profile.dataplanes else "sidecar"
    for ns in mesh.namespaces:
        if ns.dataplane != default and ns.dataplane not in profile.dataplanes:
            report.lossy(
                f"dataplane.{ns.dataplane}",
                f"{ns.path}.dataplane"
                if f"{ns.path}.dataplane" in mesh.positions.values
                else "spec.dataplane",
                f"{profile.title} has no {ns.dataplane} data plane; the namespace was "
                "rendered with sidecar injection",
            )
