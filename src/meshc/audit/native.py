"""What ``meshc audit`` checks of native enforcement: the admission policies are there, and bind as rendered.

No admission policy or webhook is ever called for admission policy or binding
objects (the API server exempts its own admission configuration), so nothing
at admission stops someone allowed to delete or edit them at cluster scope.
RBAC keeps namespace admins away (docs/native.md, "Protecting the policies");
the audit reports what is missing or changed: a policy or binding meshc
renders for the spec that the cluster does not have, and a binding whose
validationActions are not the rendered ones (a Deny turned into Warn or
Audit lets every violation in).
"""

from __future__ import annotations

from typing import Any, Protocol

from meshc.compiler.model import Mesh
from meshc.policies.native.render import admission_objects

KINDS = {
    "ValidatingAdmissionPolicy": "validatingadmissionpolicies",
    "ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings",
    "MutatingAdmissionPolicy": "mutatingadmissionpolicies",
    "MutatingAdmissionPolicyBinding": "mutatingadmissionpolicybindings",
}


class Getter(Protocol):
    def get(self, path: str) -> tuple[int, dict[str, Any]]: ...


def native_problems(cluster: Getter, mesh: Mesh) -> list[str]:
    """Each rendered admission policy or binding the cluster lacks or binds otherwise."""
    if mesh.admission.enforcement == "webhook":
        return []
    objects, problems = admission_objects(mesh)
    if any(p.level == "error" for p in problems):
        return [
            f"the spec's admission policies do not render: {p.message}"
            for p in problems
            if p.level == "error"
        ]
    found: list[str] = []
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        status, stored = cluster.get(f"/apis/{obj['apiVersion']}/{KINDS[kind]}/{name}")
        if status == 404:
            found.append(f"{kind} {name} is missing: the API server does not enforce it")
            continue
        if status != 200:
            found.append(f"{kind} {name} could not be read: {stored.get('message', status)}")
            continue
        wanted = obj["spec"].get("validationActions")
        actual = (stored.get("spec") or {}).get("validationActions")
        if wanted is not None and sorted(actual or []) != sorted(wanted):
            found.append(f"{kind} {name} has validationActions {actual}, not {wanted}")
        if (
            "Binding" in kind
            and (stored.get("spec") or {}).get("policyName") != obj["spec"]["policyName"]
        ):
            found.append(
                f"{kind} {name} binds {stored['spec'].get('policyName')!r}, "
                f"not {obj['spec']['policyName']!r}"
            )
    return found
