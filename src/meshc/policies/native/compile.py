"""The Rego policies, compiled to CEL: one validating policy per meshc policy.

:func:`compile_policies` starts where every engine does, at
``data.meshc.main.violations``, and follows the ``include`` forms down to the
findings. Each finding becomes one CEL variable whose value is a list of
findings, each ``path \\x00 problem \\x01 fix`` (so that sorting the strings
sorts them as the webhook sorts violations, and a message is one replace
away); a finding inside nested loops is joined with ``\\x1e`` and split again
by the policy, which is how lists are flattened without CEL's lists library
(not served before 1.35).

An UPDATE through a subresource is judged on what it adds, as the engine
frame does (meshc.policies.engine.subresource_baseline): every variable that
reads the object under review has a twin (``<name>_old``) that reads
``oldObject`` instead, and a finding the old object had is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .definitions import Catalogue, Definition, DefinitionError
from .expand import Expander, substitute, tokenize
from .literals import cel_literal
from .versions import Version, required, show

# The variable every rule about the object under review reads, and what its
# twin reads for the old object (see the module's docstring).
ROOT = "k8s_resource"
BASELINE = "dyn(oldObject)"
# Between a finding's path and problem, its problem and fix, and two findings.
PATH_END, PROBLEM_END, SEPARATOR = r"'\x00'", r"'\x01'", r"'\x1e'"
_NAME = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Rule:
    """One finding of a policy, as the generator compiled it."""

    policy: str
    id: str  # the finding's METADATA title, unique within its policy
    definition: Definition
    expression: str | None  # the CEL variable's expression; None when not expressible
    since: Version  # the oldest Kubernetes release that compiles it
    needs: tuple[str, ...] = ()  # the CEL features that make it that recent
    unsupported: str = ""  # why CEL cannot express it at all

    @property
    def variable(self) -> str:
        return "finding_" + _NAME.sub("_", f"{self.definition.package}_{self.id}").strip("_")

    def refused(self, version: Version) -> str:
        """Why this rule cannot run on ``version``; empty when it can."""
        if self.unsupported:
            return self.unsupported
        if version < self.since:
            return f"needs Kubernetes {show(self.since)} or later: {', '.join(self.needs)}"
        return ""


@dataclass
class Policy:
    """One meshc policy as CEL: its guard, its findings and every variable they read."""

    id: str
    guard: str
    rules: list[Rule]
    variables: dict[str, str] = field(default_factory=dict)


def _include(definition: Definition, catalogue: Catalogue, provider: str) -> list[Definition]:
    ref = str(definition.form["include"]).strip()
    if not ref.startswith("$"):
        raise DefinitionError(f"{definition.where}: include names a rule as $package.rule")
    pkg, _, name = ref[1:].rpartition(".")
    pkg = provider if pkg == "provider" else (pkg or definition.package)
    bodies = catalogue.bodies(pkg, name)
    if not bodies:
        raise DefinitionError(f"{definition.where}: {ref} names no rule")
    return bodies


def _walk(
    definition: Definition, catalogue: Catalogue, provider: str, guards: tuple[tuple[str, str], ...]
) -> Iterator[tuple[tuple[tuple[str, str], ...], Definition]]:
    """Every finding under ``definition``, with the (package, CEL) guards above it."""
    kind = definition.kind
    if kind in ("finding", "unsupported"):
        yield guards, definition
        return
    if kind == "none":
        raise DefinitionError(
            f"{definition.where}: {definition.package}.{definition.name} has no CEL form: give it "
            "one in its METADATA (custom.cel), or {unsupported: why} if CEL cannot express it"
        )
    if kind != "include":
        raise DefinitionError(f"{definition.where}: a {kind} where findings were expected")
    when = definition.form.get("when")
    inner = guards + (((definition.package, str(when)),) if when else ())
    for body in _include(definition, catalogue, provider):
        yield from _walk(body, catalogue, provider, inner)


def _finding(expander: Expander, definition: Definition) -> str:
    """The CEL list of a finding's findings (strings), loops and all."""
    form: Mapping[str, Any] = definition.form
    unknown = set(form) - {"path", "problem", "fix", "when", "if", "for"}
    if unknown:
        raise DefinitionError(f"{definition.where}: unknown keys {sorted(unknown)}")
    pkg = definition.package

    def x(text: Any) -> str:
        return expander.expand(str(text), pkg)

    found = (
        f"({x(form['path'])}) + {PATH_END} + ({x(form['problem'])}) + {PROBLEM_END} + "
        f"({x(form['fix'])})"
    )
    loops = [list(map(str, loop)) for loop in form.get("for", [])]
    when = x(form["when"]) if "when" in form else ""
    if not loops:
        expression = f"({when}) ? [{found}] : []" if when else f"[{found}]"
    else:
        expression = ""
        for depth, loop in enumerate(reversed(loops)):
            if len(loop) not in (2, 3):
                raise DefinitionError(
                    f"{definition.where}: a loop is [var, list] or [index, var, list]"
                )
            *names, items = loop
            items = x(items)
            if depth == 0:
                if len(names) == 2:
                    expression = (
                        f"({items}).transformList({names[0]}, {names[1]}, "
                        f"{when or 'true'}, {found})"
                    )
                elif when:
                    expression = f"({items}).filter({names[0]}, {when}).map({names[0]}, {found})"
                else:
                    expression = f"({items}).map({names[0]}, {found})"
            else:
                inner = f"({expression}).join({SEPARATOR})"
                expression = (
                    f"({items}).transformList({names[0]}, {names[1]}, {inner})"
                    if len(names) == 2
                    else f"({items}).map({names[0]}, {inner})"
                )
    if "if" in form:
        expression = f"({x(form['if'])}) ? ({expression}) : []"
    return expression


def translated(catalogue: Catalogue, provider: str) -> bool:
    """Whether ``provider``'s package carries CEL forms.

    A mesh whose rules have none yet (Kuma's) is judged by the webhook alone:
    native enforcement is refused for it, naming why, and the capability
    matrix says so. Once one of its findings has a form, every one must.
    """
    return any(b.form is not None for b in catalogue.findings_bodies() if b.package == provider)


def compile_policies(catalogue: Catalogue, provider: str) -> list[Policy]:
    """Every meshc policy as CEL for ``provider``, rules CEL cannot express included (marked)."""
    main = catalogue.definition("main", "violations")
    policies: list[Policy] = []
    # One expander for every policy: a variable is expanded once, so a variable
    # two policies read is the same text in both (macros' own names included).
    expander = Expander(catalogue, provider)
    for body in _include(main, catalogue, provider):
        if body.kind != "include":
            raise DefinitionError(f"{body.where}: main's found includes a policy's violations")
        (target,) = {d.package for d in _include(body, catalogue, provider)}
        guards = [expander.expand(str(main.form["when"]), main.package)]
        if body.form.get("when"):
            guards.append(expander.expand(str(body.form["when"]), body.package))
        policy_id = str(catalogue.constant(target, "policy_id"))
        rules: list[Rule] = []
        ids: set[str] = set()
        for violations in _include(body, catalogue, provider):
            if violations.kind != "include":
                raise DefinitionError(
                    f"{violations.where}: a policy's violations include its findings"
                )
            if violations.form.get("when"):
                guards.append(expander.expand(str(violations.form["when"]), violations.package))
            found = [
                pair
                for target_body in _include(violations, catalogue, provider)
                for pair in _walk(target_body, catalogue, provider, ())
            ]
            for chain, finding in found:
                rule_id = finding.title or f"{finding.name}@{finding.line}"
                if not finding.title:
                    raise DefinitionError(f"{finding.where}: a finding's METADATA needs a title")
                if rule_id in ids:
                    raise DefinitionError(
                        f"{finding.where}: the title {rule_id!r} is taken in {policy_id}"
                    )
                ids.add(rule_id)
                if finding.kind == "unsupported":
                    rules.append(
                        Rule(
                            policy_id,
                            rule_id,
                            finding,
                            None,
                            (0, 0),
                            unsupported=str(finding.form["unsupported"]),
                        )
                    )
                    continue
                expression = _finding(expander, finding)
                for pkg, when in chain:
                    expression = f"({expander.expand(when, pkg)}) ? ({expression}) : []"
                rules.append(Rule(policy_id, rule_id, finding, expression, (0, 0)))
        variables = dict(expander.variables)
        # What a rule needs is what its expression and every variable it reads need.
        rules = [
            rule
            if rule.expression is None
            else replace(
                rule, since=(needed := _required(rule.expression, variables))[0], needs=needed[1]
            )
            for rule in rules
        ]
        policies.append(Policy(policy_id, " && ".join(f"({g})" for g in guards), rules, variables))
    return policies


def _required(expression: str, variables: Mapping[str, str]) -> tuple[Version, tuple[str, ...]]:
    texts = [expression] + [variables[name] for name in closure(expression, variables)]
    since, needs = required(" ".join(texts))
    return since, tuple(needs)


def closure(expression: str, variables: Mapping[str, str]) -> list[str]:
    """The variables ``expression`` reads, directly or through the ones it reads."""
    seen: list[str] = []
    pending = sorted(references(expression))
    while pending:
        name = pending.pop()
        if name in seen or name not in variables:
            continue
        seen.append(name)
        pending += sorted(references(variables[name]))
    return seen


# --- assembling a policy's variables ----------------------------------------------------------


def references(expression: str) -> set[str]:
    """The variables ``expression`` reads (``variables.<name>``)."""
    names: set[str] = set()
    tokens = tokenize(expression)
    for i, t in enumerate(tokens[:-2]):
        if t.kind == "ident" and t.text == "variables" and tokens[i + 1].text == ".":
            names.add(tokens[i + 2].text)
    return names


def object_dependent(variables: Mapping[str, str]) -> set[str]:
    """The variables that read the object under review, directly or through others."""
    found = {ROOT}
    for name, expression in variables.items():
        if references(expression) & found:
            found.add(name)
    return found


def baseline(expression: str, dependent: set[str]) -> str:
    """``expression`` reading the old object's twins of the ``dependent`` variables."""
    tokens = tokenize(expression)
    for i, t in enumerate(tokens[2:], start=2):
        if (
            t.kind == "ident"
            and t.text in dependent
            and tokens[i - 1].text == "."
            and tokens[i - 2].text == "variables"
        ):
            tokens[i] = type(t)("ident", f"{t.text}_old")
    return "".join(t.text for t in tokens)


def data_keys(expressions: list[str]) -> set[str] | None:
    """The keys of the policy data the expressions read; None when one reads it whole."""
    keys: set[str] = set()
    for expression in expressions:
        tokens = [t for t in tokenize(expression) if not (t.kind == "other" and t.text.isspace())]
        for i, t in enumerate(tokens[:-2]):
            if (
                t.kind == "ident"
                and t.text == "variables"
                and tokens[i + 1].text == "."
                and tokens[i + 2].text == "config"
            ):
                if (
                    i + 4 < len(tokens)
                    and tokens[i + 3].text == "."
                    and tokens[i + 4].kind == "ident"
                ):
                    keys.add(tokens[i + 4].text)
                else:
                    return None
    return keys


def config_literal(data: Mapping[str, Any], expressions: list[str]) -> str:
    keys = data_keys(expressions)
    subset = dict(data) if keys is None else {k: data[k] for k in sorted(keys) if k in data}
    return cel_literal(subset)


__all__ = [
    "BASELINE",
    "ROOT",
    "Policy",
    "Rule",
    "baseline",
    "compile_policies",
    "config_literal",
    "object_dependent",
    "substitute",
]
