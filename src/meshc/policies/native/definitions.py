"""The CEL form of each Rego rule, read from the rule's own ``# METADATA`` block.

A rule's METADATA carries its CEL form under ``custom.cel``, beside the Rego
it mirrors, so one definition holds both. What the form is follows from the
rule and the form's shape:

- a rule without arguments and a CEL string: a CEL variable (``variables.<package>_<rule>``);
- a function and a CEL string: a macro, expanded where it is called, its
  parameters the function's own (or ``params``);
- ``{literal: true}``: the rule's constant value, read from the Rego source;
- ``{data: true}``: the policy data document (``data.meshc.config``);
- a finding (a body of a ``findings`` or ``*_findings`` rule): ``path``,
  ``problem`` and ``fix`` (CEL strings), ``when`` (a CEL condition), ``if``
  (a condition tested before any loop) and ``for`` (loops, outermost first:
  ``[var, list]`` or ``[index, var, list]``);
- ``{include: $rule, when: ...}``: every finding of another rule, guarded;
- ``{unsupported: why}``: a finding CEL cannot express; the generator refuses
  it for ``enforcement: native`` and leaves it to the webhook under ``both``.

CEL forms name other rules as ``$package.rule`` (``$rule`` in the same
package, ``$provider.rule`` in the spec's provider's) and Rego builtins as
``@builtin(...)``; :mod:`meshc.policies.native.expand` resolves both.
This module parses the METADATA YAML itself: OPA is not there at run time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml

from meshc.policies.modules import packaged_dir

from .literals import parse_rego_term

# Packages by the last part of their name: meshc.lib.k8s -> k8s,
# meshc.providers.istio -> istio, meshc.injection_required -> injection_required.
_PACKAGE = re.compile(r"^package\s+([\w.]+)\s*$", re.MULTILINE)
_HEAD = re.compile(r"^(?:default\s+)?([a-z_][A-Za-z0-9_]*)\s*(\(([^)]*)\))?(.*)$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FINDING_KEYS = frozenset({"path", "problem", "fix", "when", "if", "for"})
FINDINGS_RULE = re.compile(r"^(findings|[a-z_]+_findings)$")


class DefinitionError(ValueError):
    """A METADATA block or rule the generator cannot read; names the file and line."""


@dataclass(frozen=True)
class Definition:
    """One Rego rule body and its CEL form."""

    package: str  # the package's last name: k8s, mesh, istio, injection_required, ...
    name: str  # the rule's name
    params: tuple[str, ...] | None  # a function's parameters; None for a rule
    form: Any  # custom.cel as written, or None when the body has no CEL form
    title: str  # METADATA title: the rule id a finding is listed under
    file: str
    line: int  # of the rule's head
    literal: Any = None  # the rule's value when its head is `name := <constant>`
    constant: bool = False  # whether it is
    description: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def kind(self) -> str:
        """var | macro | literal | data | finding | include | unsupported | none."""
        form = self.form
        if form is None:
            return "none"
        if isinstance(form, str):
            return "macro" if self.params is not None else "var"
        if isinstance(form, dict):
            if form.get("literal") is True:
                return "literal"
            if form.get("data") is True:
                return "data"
            if "unsupported" in form:
                return "unsupported"
            if "include" in form:
                return "include"
            if "macro" in form:
                return "macro"
            if "path" in form:
                return "finding"
        raise DefinitionError(f"{self.where}: cannot tell what CEL form {form!r} is")

    @property
    def is_findings_rule(self) -> bool:
        return bool(FINDINGS_RULE.match(self.name))


@dataclass(frozen=True)
class Module:
    file: str
    package: str
    definitions: tuple[Definition, ...] = field(default_factory=tuple)


def short_package(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def parse_module(file: str, source: str) -> Module:
    """Every rule body of a Rego module (every head at column 0), with its CEL form if any."""
    match = _PACKAGE.search(source)
    if match is None:
        raise DefinitionError(f"{file}: no package")
    package = short_package(match.group(1))
    lines = source.splitlines()
    found: list[Definition] = []
    pending: list[str] | None = None  # the METADATA block above the next head
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("# METADATA"):
            block: list[str] = []
            i += 1
            while i < len(lines) and lines[i].startswith("#"):
                block.append(lines[i][2:] if lines[i].startswith("# ") else lines[i][1:])
                i += 1
            pending = block
            continue
        if not line or line[0] in " \t}#" or line.startswith(("package ", "import ")):
            i += 1
            continue
        head = _HEAD.match(line)
        if head is None:
            i += 1
            continue
        meta = _metadata(file, i, pending) if pending is not None else {}
        pending = None
        custom = meta.get("custom") or {}
        form = custom.get("cel") if isinstance(custom, dict) else None
        params = _params(head.group(3)) if head.group(2) is not None else None
        if isinstance(form, dict) and "params" in form:
            params = tuple(form["params"])
        if isinstance(form, dict) and "macro" in form:
            form = dict(form)
        definition = Definition(
            package=package,
            name=head.group(1),
            params=params,
            form=form,
            title=str(meta.get("title", "")),
            description=str(meta.get("description", "")),
            file=file,
            line=i + 1,
        )
        definition = _with_literal(definition, lines, i)
        if definition.form is not None and definition.kind == "literal" and not definition.constant:
            raise DefinitionError(f"{definition.where}: a literal rule is `name := <constant>`")
        found.append(definition)
        i += 1
    return Module(file=file, package=package, definitions=tuple(found))


def _metadata(file: str, index: int, block: list[str]) -> dict[str, Any]:
    try:
        meta = yaml.safe_load("\n".join(block))
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{file}:{index}: METADATA is not YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise DefinitionError(f"{file}:{index}: METADATA is not a mapping")
    return meta


def _params(text: str) -> tuple[str, ...]:
    params = tuple(p.strip() for p in text.split(",") if p.strip())
    # A body written for literal arguments ("exclude", value) names no parameters.
    return params if all(_IDENT.match(p) for p in params) else ()


def _with_literal(definition: Definition, lines: list[str], index: int) -> Definition:
    """``definition`` with its value, when its head is ``name := <constant>``."""
    text = "\n".join(lines[index : index + 200])
    head = re.match(r"^[a-z_]\w*\s*:=\s*", text)
    if head is None:
        return definition
    try:
        value, end = parse_rego_term(text, head.end())
    except (ValueError, IndexError):
        return definition
    rest = text[end:].split("\n", 1)[0].strip()
    if rest and not rest.startswith("#"):
        return definition  # a constant followed by more: `x := "a" if ...`
    return Definition(**{**definition.__dict__, "literal": value, "constant": True})


@dataclass(frozen=True)
class Catalogue:
    """Every rule body of the policies, by package and name."""

    modules: tuple[Module, ...]

    def bodies(self, package: str, name: str) -> list[Definition]:
        return [
            d for m in self.modules if m.package == package for d in m.definitions if d.name == name
        ]

    def definition(self, package: str, name: str) -> Definition:
        """The body that carries the CEL form of a variable, macro or literal."""
        bodies = [b for b in self.bodies(package, name) if b.form is not None]
        if not bodies:
            known = self.bodies(package, name)
            what = "no rule" if not known else "no CEL form (custom.cel in its METADATA)"
            raise DefinitionError(f"{package}.{name}: {what}")
        if len(bodies) > 1:
            raise DefinitionError(
                f"{package}.{name}: more than one body has a CEL form "
                f"({', '.join(b.where for b in bodies)}); a rule's CEL form covers all its bodies"
            )
        return bodies[0]

    @property
    def packages(self) -> frozenset[str]:
        return frozenset(m.package for m in self.modules)

    def findings_bodies(self) -> Iterable[Definition]:
        """Every body of a ``findings`` or ``*_findings`` rule, in file order."""
        for module in self.modules:
            for d in module.definitions:
                if d.is_findings_rule:
                    yield d

    def constant(self, package: str, name: str) -> Any:
        """The value of ``name := <constant>`` (any body), whether or not it has a CEL form."""
        for body in self.bodies(package, name):
            if body.constant:
                return body.literal
        raise DefinitionError(f"{package}.{name} is not a constant")


def parse_modules(sources: Mapping[str, str]) -> Catalogue:
    return Catalogue(tuple(parse_module(name, text) for name, text in sorted(sources.items())))


@cache
def packaged() -> Catalogue:
    """The packaged policies (never a ``--policies`` override: a render is the same anywhere)."""
    root = packaged_dir()
    sources = {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in root.iterdir()
        if entry.name.endswith(".rego") and not entry.name.endswith("_test.rego")
    }
    return parse_modules(sources)
