"""The admission objects of a spec's mesh: what ``meshc render`` adds under
``spec.admission.enforcement: native`` or ``both``.

Per meshc policy, a ValidatingAdmissionPolicy (its findings, compiled from the
Rego by :mod:`meshc.policies.native.compile`) and a binding whose
``validationActions`` are the policy's mode (enforce: Deny, warn: Warn, audit:
Audit); a MutatingAdmissionPolicy and its binding for what the webhook's
``/mutate`` does (the profile's markers on meshed namespaces). The policies
match exactly the requests the webhook's rules send it
(:mod:`meshc.policies.judged`), outside the spec's exempt
namespaces. The facts they read are the policy data document itself
(:func:`meshc.policies.data.policy_data`), as a CEL constant in each policy:
no params object, so nothing namespaced that a namespace admin could edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from meshc.compiler.model import Mesh
from meshc.compiler.objects import Obj, metadata, new_object

from ..data import policy_data
from ..judged import configuration, deletes, judged
from ..mutation import SECTIONS, NamespaceMutation, section_of
from .compile import (
    BASELINE,
    PATH_END,
    PROBLEM_END,
    ROOT,
    SEPARATOR,
    Policy,
    Rule,
    baseline,
    closure,
    compile_policies,
    config_literal,
    object_dependent,
    references,
)
from .definitions import Catalogue, packaged
from .expand import Expander
from .literals import cel_string
from .versions import Version, serves

ACTIONS = {"enforce": "Deny", "warn": "Warn", "audit": "Audit"}
MODES = tuple(ACTIONS)
# Where in the spec the admission objects come from (their source annotation).
SPEC_PATH = "spec.admission.enforcement"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Refusal:
    """A rule the native policies leave out, and why."""

    policy: str
    rule: str
    reason: str

    def __str__(self) -> str:
        if self.rule == "*":
            return f"{self.policy} (every rule): {self.reason}"
        return f"{self.policy}/{self.rule}: {self.reason}"


@dataclass
class NativeAdmission:
    """The admission objects of one spec, and the rules they leave to the webhook."""

    objects: list[Obj] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def policy_name(mesh: Mesh, mode: str) -> str:
    """The ValidatingAdmissionPolicy (and binding) of the spec's policies in ``mode``."""
    return f"meshc-{mesh.name}-{mode}"


def markers_policy_name(mesh: Mesh) -> str:
    return f"meshc-{mesh.name}-namespace-markers"


def _variables(
    policy: Policy, rules: list[Rule], version: Version, catalogue: Catalogue, provider: str
) -> tuple[dict[str, str], dict[str, str]]:
    """The policy's variables (data's left empty) and its validation.

    The variables of its own are named after it (``<policy>_findings``, ...);
    the ones its rules read are shared by every policy that reads them.
    """
    expander = Expander(catalogue, provider, variables=dict(policy.variables))
    kind = expander.expand("$kind", "k8s")
    ref = expander.expand("$namespace != '' ? $namespace + '/' + $name : $name", "k8s")
    variables = dict(expander.variables)
    for rule in rules:
        assert rule.expression is not None
        variables[rule.variable] = rule.expression
    dependent = object_dependent(variables)
    own = policy.id.replace("-", "_")
    found, found_old = f"{own}_found", f"{own}_found_old"
    findings, messages = f"{own}_findings", f"{own}_messages"
    blobs = " + ".join(f"variables.{r.variable}" for r in rules) or "[]"
    # A finding in nested loops may leave empty strings between separators: dropped.
    flatten = (
        f"({blobs}).filter(_b, _b != '').join({SEPARATOR}).split({SEPARATOR}).filter(_f, _f != '')"
    )
    found_expression = f"({policy.guard}) ? ({flatten}) : []"
    ratchet = (
        "request.operation == 'UPDATE' && request.?subResource.orValue('') != '' "
        "&& oldObject != null"
    )
    findings_expression = (
        f"({ratchet}) ? variables.{found}.filter(_f, !(_f in variables.{found_old})) "
        f": variables.{found}"
    )
    if version >= (1, 35):
        findings_expression = f"({findings_expression}).distinct().sort()"
    every: dict[str, str] = {"config": ""}
    for name, expression in variables.items():
        every[name] = expression
        if name in dependent:
            every[f"{name}_old"] = BASELINE if name == ROOT else baseline(expression, dependent)
    every[found] = found_expression
    every[found_old] = baseline(found_expression, dependent)
    every[findings] = findings_expression
    every[messages] = (
        f"variables.{findings}.map(_f, {cel_string(f'[meshc:{policy.id}] ')} + {kind} + ' ' + ({ref}) "
        f"+ ': ' + _f.replace({PATH_END}, ': ').replace({PROBLEM_END}, '; ')"
        ".replace('\\n', ' ').replace('\\r', ' '))"
    )
    every[f"{own}_message"] = _message(version, f"variables.{messages}")
    # Only what the policy reads: a rule left out may leave variables nothing reads,
    # and those may need a newer release than the rest.
    roots = f"variables.{findings} + variables.{own}_message"
    reachable = {findings, f"{own}_message", *closure(roots, every)}
    validation = {
        "expression": f"size(variables.{findings}) == 0",
        "messageExpression": f"variables.{own}_message",
        "reason": "Forbidden",
    }
    return {name: e for name, e in every.items() if name in reachable}, validation


# The API server drops a message past 5 KiB or with a line break (and says only
# "failed expression"): findings are joined on one line, as many as fit.
MESSAGE_LIMIT = 4800
MORE = "\u2026and {n} more (run `meshc check` for all)"
SEPARATOR_TEXT = " | "


def _message(version: Version, messages: str) -> str:
    """The denial's text: the findings on one line, as many whole ones as fit."""
    sep = cel_string(SEPARATOR_TEXT)
    more = (
        f"{cel_string(' ' + MORE.split('{n}')[0])} + string(size({messages}) - _n) + "
        f"{cel_string(MORE.split('{n}')[1])}"
    )
    first = (
        f"(size({messages}[0]) > 1000 ? {messages}[0].substring(0, 1000) + '\u2026'"
        f" : {messages}[0])"
    )
    if version < (1, 33):
        joined = f"{messages}.join({sep})"
        return (
            f"size({messages}) == 0 ? '' : (size(bytes({joined})) <= {MESSAGE_LIMIT} ? {joined}"
            f" : [1].map(_n, {first} + {more})[0])"
        )
    fit = (
        f"{messages}.transformList(_i, _m, {messages}.transformList(_j, _o, _j <= _i, "
        f"size(bytes(_o)) + {len(SEPARATOR_TEXT.encode())}).sum() <= {MESSAGE_LIMIT}, _m)"
    )
    return (
        f"size({messages}) == 0 ? '' : [{fit}].map(_s, [size(_s)].map(_n, _n == 0 ? "
        f"[1].map(_n, {first} + (size({messages}) > 1 ? {more} : ''))[0] : "
        f"_s.join({sep}) + (_n < size({messages}) ? {more} : ''))[0])[0]"
    )


def _in_dependency_order(variables: Mapping[str, str]) -> list[tuple[str, str]]:
    """Each variable after every variable it reads (the API server's rule), else as given."""
    done: dict[str, str] = {}
    pending = dict(variables)
    while pending:
        for name, expression in pending.items():
            if (references(expression) & set(variables)) - {name} <= set(done):
                done[name] = expression
                del pending[name]
                break
        else:
            raise ValueError(f"variables that read each other: {sorted(pending)}")
    return list(done.items())


def _match(mesh: Mesh) -> dict[str, Any]:
    """The webhook's requests: workloads and namespaces outside the exempt namespaces,
    mesh configuration (and the DELETE of the security objects) in every namespace but
    kube-system and the webhook's, as the chart's three validating webhooks match them."""
    rules = [{"operations": ["CREATE", "UPDATE"], **r} for r in judged() + configuration()]
    rules += [{"operations": ["DELETE"], **r} for r in deletes()]
    return {
        "resourceRules": rules,
        # What none of the webhooks judges; _match_conditions tells the rest apart.
        "namespaceSelector": {
            "matchExpressions": [
                {
                    "key": NAMESPACE_LABEL,
                    "operator": "NotIn",
                    "values": sorted(
                        set(mesh.admission.exempt_namespaces) & set(_config_excluded(mesh))
                    ),
                }
            ]
        },
        "matchPolicy": "Equivalent",
    }


def _config_excluded(mesh: Mesh) -> list[str]:
    """The namespaces whose mesh configuration the webhook does not judge (validate-config)."""
    return sorted({"kube-system", mesh.admission.webhook_namespace})


def _match_conditions(mesh: Mesh) -> list[dict[str, str]]:
    workloads = sorted(
        {
            f"{group}/{resource}"
            for rule in judged()
            for group in rule["apiGroups"]
            for resource in rule["resources"]
            if "/" not in resource
        }
    )
    namespace = (
        "((request.resource.group == '' && request.resource.resource == 'namespaces') "
        "? request.name : request.namespace)"
    )
    return [
        {
            "name": "judged-namespace",
            "expression": (
                f"(request.resource.group + '/' + request.resource.resource in {_string_list(workloads)}) "
                f"? !({namespace} in {_string_list(sorted(mesh.admission.exempt_namespaces))}) "
                f": !(request.namespace in {_string_list(_config_excluded(mesh))})"
            ),
        }
    ]


def _namespace_selector(mesh: Mesh) -> dict[str, Any]:
    return {
        "matchExpressions": [
            {
                "key": NAMESPACE_LABEL,
                "operator": "NotIn",
                "values": sorted(mesh.admission.exempt_namespaces),
            }
        ]
    }


def excepted_policies(mesh: Mesh) -> dict[str, str]:
    """The policies spec.admission.exceptions name, each with why native cannot enforce it.

    An exception admits a finding as an audit record until it expires, judged
    at each evaluation; a ValidatingAdmissionPolicy has no clock and no way to
    move one finding from a Deny binding to an Audit one, so the native
    policies do not apply exceptions. Lossless or loud: ``native`` refuses such
    a spec and ``both`` leaves these policies to the webhook.
    """
    found: dict[str, list[str]] = {}
    for exception in mesh.admission.exceptions:
        for policy in exception.policies:
            found.setdefault(policy, []).append(exception.path)
    return {
        policy: (
            f"{', '.join(paths)} excepts findings of it, and the native policies "
            "do not apply exceptions (no clock for their expiry, no per-finding audit)"
        )
        for policy, paths in found.items()
    }


def ambient_policies(mesh: Mesh) -> dict[str, str]:
    """injection-required, with why native cannot enforce it, when the spec puts a namespace
    in Istio's ambient data plane: enrollment is judged by rules with no CEL form yet."""
    ambient = [ns.name for ns in mesh.namespaces if ns.dataplane == "ambient"]
    if not ambient:
        return {}
    return {
        "injection-required": f"namespaces {', '.join(ambient)} are ambient, and the native "
        "policies do not judge ambient enrollment (only the webhook does)"
    }


def native_admission(
    mesh: Mesh, version: Version, *, allow_webhook_rules: bool, catalogue: Catalogue | None = None
) -> NativeAdmission:
    """The admission objects of ``mesh`` for a Kubernetes ``version``.

    Rules CEL cannot express, or ``version`` cannot compile, are left out and
    listed in ``refused``; the caller decides whether the webhook keeps them
    (``both``) or that is an error (``native``, ``allow_webhook_rules`` false:
    the objects are still built, for a caller that reports the refusals).
    """
    served = serves(version)
    catalogue = catalogue or packaged()
    data = policy_data(mesh)
    modes = data["modes"]
    result = NativeAdmission()
    # One policy per mode: the API server converts the object for each policy it
    # runs, which costs more than judging it, and a binding's validationActions
    # are the mode.
    groups: dict[str, tuple[dict[str, str], list[dict[str, str]]]] = {}
    excepted = {**excepted_policies(mesh), **ambient_policies(mesh)}
    for policy in compile_policies(catalogue, mesh.provider):
        if policy.id in excepted:
            # The policy stays whole with the webhook: a native denial would
            # overrule the exception the webhook applies.
            result.refused.append(Refusal(policy.id, "*", excepted[policy.id]))
            continue
        kept: list[Rule] = []
        for rule in policy.rules:
            reason = rule.refused(version)
            if reason:
                result.refused.append(Refusal(policy.id, rule.id, reason))
            else:
                kept.append(rule)
        variables, validation = _variables(policy, kept, version, catalogue, mesh.provider)
        shared, validations = groups.setdefault(modes.get(policy.id, "enforce"), ({}, []))
        for name, expression in variables.items():
            if shared.get(name, expression) != expression:
                raise ValueError(f"two policies define the CEL variable {name} differently")
            shared[name] = expression
        validations.append(validation)
    validating: list[Obj] = []
    for mode in MODES:
        if mode not in groups:
            continue
        shared, validations = groups[mode]
        if "config" in shared:
            shared["config"] = config_literal(data, [e for n, e in shared.items() if n != "config"])
        name = policy_name(mesh, mode)
        validating.append(
            new_object(
                served.validating,
                "ValidatingAdmissionPolicy",
                metadata(mesh, "ValidatingAdmissionPolicy", name, None, SPEC_PATH),
                spec={
                    "failurePolicy": "Fail",
                    "matchConstraints": _match(mesh),
                    "matchConditions": _match_conditions(mesh),
                    "variables": [
                        {"name": n, "expression": e} for n, e in _in_dependency_order(shared)
                    ],
                    "validations": validations,
                },
            )
        )
        validating.append(
            new_object(
                served.validating,
                "ValidatingAdmissionPolicyBinding",
                metadata(mesh, "ValidatingAdmissionPolicyBinding", name, None, SPEC_PATH),
                spec={"policyName": name, "validationActions": [ACTIONS[mode]]},
            )
        )
    result.objects = validating + _mutating(mesh, served.mutating)
    return result


def _mutating(mesh: Mesh, api_version: str | None) -> list[Obj]:
    """What /mutate does, for the API server to do: the markers on meshed namespaces.

    As :class:`meshc.policies.mutation.NamespaceMutation`: each meshed
    namespace gets its own markers (an Istio revision), a marker is only ever
    added (never one the namespace already has, whatever its value), and no
    injection marker is added beside an injection choice the namespace states.
    The apply configuration lists every marker key any namespace can get as an
    optional entry, present only when it is to be added.
    """
    if api_version is None:
        return []
    mutation = NamespaceMutation.of(mesh)
    if not mutation.markers:
        return []
    table = (
        "{"
        + ", ".join(
            f"{cel_string(ns)}: {{'labels': {_string_map(dict(m['labels']))}, "
            f"'annotations': {_string_map(dict(m['annotations']))}}}"
            for ns, m in sorted(mutation.markers.items())
        )
        + "}"
    )
    keys = {
        section: sorted({k for m in mutation.markers.values() for k in section_of(m, section)})
        for section in SECTIONS
    }
    chosen = (
        " || ".join(
            f"{_string_list(list(mutation.injection_keys.get(section, ())))}"
            f".exists(_k, _k in variables.{section})"
            for section in SECTIONS
            if mutation.injection_keys.get(section)
        )
        or "false"
    )
    fields = []
    for section in SECTIONS:
        if not keys[section]:
            continue
        entries = []
        for key in keys[section]:
            k = cel_string(key)
            condition = f"{k} in variables.wanted.{section} && !({k} in variables.{section})"
            if key in mutation.injection_keys.get(section, ()):
                condition += " && !variables.chosen"
            entries.append(
                f"?{k}: ({condition}) ? optional.of(string(variables.wanted.{section}[{k}])) "
                ": optional.none()"
            )
        fields.append(f"{section}: {{" + ", ".join(entries) + "}")
    name = markers_policy_name(mesh)
    return [
        new_object(
            api_version,
            "MutatingAdmissionPolicy",
            metadata(mesh, "MutatingAdmissionPolicy", name, None, SPEC_PATH),
            spec={
                # As the webhook's /mutate: a skipped mutation only means the
                # validating policy denies the namespace, naming the marker.
                "failurePolicy": "Ignore",
                "reinvocationPolicy": "Never",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "operations": ["CREATE", "UPDATE"],
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "resources": ["namespaces"],
                            "scope": "Cluster",
                        }
                    ],
                    "namespaceSelector": _namespace_selector(mesh),
                    "matchPolicy": "Equivalent",
                },
                "matchConditions": [
                    {
                        "name": "meshed",
                        "expression": f"object.metadata.name in {_string_list(sorted(mutation.meshed))}",
                    }
                ],
                "variables": [
                    {"name": "wanted", "expression": f"dyn({table})[object.metadata.name]"},
                    {"name": "labels", "expression": "object.metadata.?labels.orValue({})"},
                    {
                        "name": "annotations",
                        "expression": "object.metadata.?annotations.orValue({})",
                    },
                    {"name": "chosen", "expression": chosen},
                ],
                "mutations": [
                    {
                        "patchType": "ApplyConfiguration",
                        "applyConfiguration": {
                            "expression": "Object{metadata: Object.metadata{"
                            + ", ".join(fields)
                            + "}}",
                        },
                    }
                ],
            },
        ),
        new_object(
            api_version,
            "MutatingAdmissionPolicyBinding",
            metadata(mesh, "MutatingAdmissionPolicyBinding", name, None, SPEC_PATH),
            spec={"policyName": name},
        ),
    ]


def _string_map(values: Mapping[str, str]) -> str:
    return (
        "{"
        + ", ".join(f"{cel_string(k)}: {cel_string(v)}" for k, v in sorted(values.items()))
        + "}"
    )


def _string_list(values: list[str]) -> str:
    return "[" + ", ".join(cel_string(v) for v in values) + "]"
