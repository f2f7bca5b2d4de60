"""What `meshc render` adds for spec.admission.enforcement native or both.

The policies themselves are proven against the webhook through a real API
server (tests/e2e/test_native_admission.py); these tests hold the objects'
shape: labels and waves like the rest of the render, one policy per mode with
the mode as its binding's action, the webhook's own match, each release's
API versions, and the rules a release cannot run refused or left to the
webhook, by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from meshc.cli import main
from meshc.compiler.loader import load_mesh
from meshc.policies.data import policy_data
from meshc.policies.judged import configuration, deletes, judged
from meshc.policies.mutation import NamespaceMutation
from meshc.policies.native.compile import references
from meshc.policies.native.objects import native_admission
from meshc.policies.native.versions import LATEST

ADMISSION = (
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
)


def spec(tmp_path: Path, provider: str = "istio", admission: str = "enforcement: native") -> Path:
    path = tmp_path / "mesh.yaml"
    path.write_text(
        "apiVersion: meshc.io/v1alpha1\nkind: Mesh\nmetadata: {name: shop}\n"
        f"spec:\n  provider: {provider}\n  namespaces: [{{name: shop}}]\n"
        f"  admission:\n    {admission}\n"
    )
    return path


def render(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]], str]:
    code = main(["render", *args])
    out, err = capsys.readouterr()
    return code, [d for d in yaml.safe_load_all(out) if d], err


def test_the_webhook_alone_renders_no_admission_objects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, objects, _ = render(capsys, "-s", str(spec(tmp_path, admission="enforcement: webhook")))
    assert code == 0 and not [o for o in objects if o["kind"] in ADMISSION]


@pytest.mark.parametrize("enforcement", ["native", "both"])
def test_admission_objects_render_first_with_the_render_s_labels_and_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], enforcement: str
) -> None:
    path = spec(tmp_path, admission=f"enforcement: {enforcement}")
    code, objects, err = render(capsys, "-s", str(path))
    assert (code, err) == (0, "")
    kinds = [o["kind"] for o in objects]
    assert kinds[:4] == [
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ]
    assert "Namespace" in kinds[4:]
    for obj in objects[:4]:
        meta = obj["metadata"]
        assert meta["labels"] == {"app.kubernetes.io/managed-by": "meshc", "meshc.io/mesh": "shop"}
        assert meta["annotations"] == {
            "argocd.argoproj.io/sync-wave": "-1",
            "meshc.io/source": f"{path}#spec.admission.enforcement",
        }
    # The same spec renders the same bytes.
    assert render(capsys, "-s", str(path))[1] == objects


def test_each_mode_is_one_policy_whose_binding_s_action_is_the_mode(tmp_path: Path) -> None:
    path = spec(
        tmp_path,
        admission="enforcement: native\n    policies: "
        "{injection-required: warn, mtls-strict: audit}",
    )
    objects = native_admission(load_mesh(str(path)), LATEST, allow_webhook_rules=False).objects
    bindings = {
        o["metadata"]["name"]: o["spec"]["validationActions"]
        for o in objects
        if o["kind"] == "ValidatingAdmissionPolicyBinding"
    }
    assert bindings == {
        "meshc-shop-enforce": ["Deny"],
        "meshc-shop-warn": ["Warn"],
        "meshc-shop-audit": ["Audit"],
    }
    judged_by = {
        o["metadata"]["name"]: [v["messageExpression"] for v in o["spec"]["validations"]]
        for o in objects
        if o["kind"] == "ValidatingAdmissionPolicy"
    }
    assert judged_by == {
        "meshc-shop-enforce": [
            "variables.allowed_namespaces_message",
            "variables.managed_objects_message",
        ],
        "meshc-shop-warn": ["variables.injection_required_message"],
        "meshc-shop-audit": ["variables.mtls_strict_message"],
    }
    for obj in objects:
        for validation in obj["spec"].get("validations", []):
            assert validation["reason"] == "Forbidden"  # 403, as the webhook's denial


@pytest.mark.parametrize("provider", ["istio", "linkerd"])
def test_the_policies_match_every_request_the_webhook_is_sent_outside_exempt_namespaces(
    tmp_path: Path, provider: str
) -> None:
    mesh = load_mesh(str(spec(tmp_path, provider)))
    (policy,) = [
        o
        for o in native_admission(mesh, LATEST, allow_webhook_rules=False).objects
        if o["kind"] == "ValidatingAdmissionPolicy"
    ]
    match = policy["spec"]["matchConstraints"]
    assert match["resourceRules"] == (
        [{"operations": ["CREATE", "UPDATE"], **r} for r in judged() + configuration()]
        + [{"operations": ["DELETE"], **r} for r in deletes()]
    )
    assert "pods/ephemeralcontainers" in match["resourceRules"][0]["resources"]
    # What no webhook judges: kube-system and the webhook's namespace.
    assert match["namespaceSelector"]["matchExpressions"] == [
        {
            "key": "kubernetes.io/metadata.name",
            "operator": "NotIn",
            "values": ["kube-system", "meshc-system"],
        }
    ]
    # Workloads and namespaces outside the exempt namespaces (validate.meshc.io), mesh
    # configuration everywhere else (validate-config.meshc.io): istio-system's
    # mesh-wide policies are judged, its pods are not.
    (condition,) = policy["spec"]["matchConditions"]
    exempt = "[" + ", ".join(f"'{ns}'" for ns in sorted(mesh.admission.exempt_namespaces)) + "]"
    assert (
        f"? !(((request.resource.group == '' && request.resource.resource == 'namespaces') "
        f"? request.name : request.namespace) in {exempt}) "
        ": !(request.namespace in ['kube-system', 'meshc-system'])" in condition["expression"]
    )
    assert "'/pods'" in condition["expression"] and "'apps/deployments'" in condition["expression"]
    assert policy["spec"]["failurePolicy"] == "Fail"


@pytest.mark.parametrize("provider", ["istio", "linkerd"])
def test_every_variable_reads_only_variables_before_it_and_the_data_it_needs(
    tmp_path: Path, provider: str
) -> None:
    mesh = load_mesh(str(spec(tmp_path, provider)))
    (policy,) = [
        o
        for o in native_admission(mesh, LATEST, allow_webhook_rules=False).objects
        if o["kind"] == "ValidatingAdmissionPolicy"
    ]
    seen: set[str] = set()
    for variable in policy["spec"]["variables"]:
        assert references(variable["expression"]) - {variable["name"]} <= seen, variable["name"]
        seen.add(variable["name"])
    for validation in policy["spec"]["validations"]:
        assert references(validation["expression"] + validation["messageExpression"]) <= seen
    config = next(v["expression"] for v in policy["spec"]["variables"] if v["name"] == "config")
    data = policy_data(mesh)
    assert (
        "'sources'" not in config and "'protected'" in config and f"'{data['mesh_name']}'" in config
    )


@pytest.mark.parametrize("provider", ["istio", "linkerd"])
def test_the_mutating_policy_adds_what_the_webhook_s_mutate_adds(
    tmp_path: Path, provider: str
) -> None:
    mesh = load_mesh(str(spec(tmp_path, provider)))
    mutating, binding = [
        o
        for o in native_admission(mesh, LATEST, allow_webhook_rules=False).objects
        if o["kind"].startswith("Mutating")
    ]
    assert mutating["spec"]["matchConditions"] == [
        {"name": "meshed", "expression": "object.metadata.name in ['shop']"}
    ]
    expression = mutating["spec"]["mutations"][0]["applyConfiguration"]["expression"]
    wanted = {v["name"]: v["expression"] for v in mutating["spec"]["variables"]}["wanted"]
    markers = NamespaceMutation.of(mesh).markers["shop"]
    for section in ("labels", "annotations"):
        for key, value in markers[section].items():  # type: ignore[literal-required]
            assert f"'{key}': '{value}'" in wanted
            # Only ever added: present only when the namespace lacks the key.
            assert (
                f"?'{key}': ('{key}' in variables.wanted.{section} && !('{key}' in variables.{section})"
                in expression
            )
    assert binding["spec"] == {"policyName": mutating["metadata"]["name"]}


def test_each_namespace_gets_its_own_revision_and_no_injection_marker_beside_a_choice(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mesh.yaml"
    path.write_text(
        "apiVersion: meshc.io/v1alpha1\nkind: Mesh\nmetadata: {name: shop}\n"
        "spec:\n  provider: istio\n  namespaces: [{name: shop, revision: canary}, {name: web}]\n"
        "  admission:\n    enforcement: native\n"
    )
    mesh = load_mesh(str(path))
    mutating = next(
        o
        for o in native_admission(mesh, LATEST, allow_webhook_rules=False).objects
        if o["kind"] == "MutatingAdmissionPolicy"
    )
    variables = {v["name"]: v["expression"] for v in mutating["spec"]["variables"]}
    assert "'shop': {'labels': {'istio.io/rev': 'canary'}" in variables["wanted"]
    assert "'web': {'labels': {'istio-injection': 'enabled'}" in variables["wanted"]
    assert variables["chosen"].startswith("['istio-injection', 'istio.io/rev'")
    expression = mutating["spec"]["mutations"][0]["applyConfiguration"]["expression"]
    assert expression.count("!variables.chosen") == 2


def exceptional_spec(tmp_path: Path, enforcement: str) -> Path:
    path = tmp_path / "mesh.yaml"
    path.write_text(
        "apiVersion: meshc.io/v1alpha1\nkind: Mesh\nmetadata: {name: shop}\n"
        "spec:\n  provider: istio\n  namespaces: [{name: shop}]\n"
        f"  admission:\n    enforcement: {enforcement}\n"
        "    exceptions:\n"
        "      - {name: legacy, policies: [injection-required], namespaces: [shop], reason: migrating}\n"
    )
    return path


def test_native_refuses_a_spec_with_exceptions_naming_the_policies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = render(capsys, "-s", str(exceptional_spec(tmp_path, "native")))
    assert code == 2
    assert "injection-required (every rule)" in err
    assert "spec.admission.exceptions[0] excepts findings of it" in err


def test_both_leaves_the_policies_exceptions_name_to_the_webhook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, objects, err = render(capsys, "-s", str(exceptional_spec(tmp_path, "both")))
    assert code == 0
    assert "left to the webhook" in err and "injection-required (every rule)" in err
    text = yaml.safe_dump([o for o in objects if o["kind"] == "ValidatingAdmissionPolicy"])
    assert "[meshc:mtls-strict]" in text and "[meshc:injection-required]" not in text


def test_1_34_and_1_35_get_the_beta_mutating_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, objects, err = render(capsys, "-s", str(spec(tmp_path)), "--kube-version", "1.35")
    assert (code, err) == (0, "")
    assert {o["apiVersion"] for o in objects if o["kind"].startswith("Mutating")} == {
        "admissionregistration.k8s.io/v1beta1"
    }
    assert {o["apiVersion"] for o in objects if o["kind"].startswith("Validating")} == {
        "admissionregistration.k8s.io/v1"
    }


def test_below_1_34_there_is_no_mutating_policy_and_the_render_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = spec(tmp_path, admission="enforcement: native\n    kubernetesVersion: '1.33'")
    code, objects, err = render(capsys, "-s", str(path))
    assert code == 0
    assert not [o for o in objects if o["kind"].startswith("Mutating")]
    assert "serves no MutatingAdmissionPolicy" in err and "warning:" in err


def test_native_refuses_a_release_that_cannot_run_every_rule_naming_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, objects, err = render(capsys, "-s", str(spec(tmp_path)), "--kube-version", "1.31")
    assert (code, objects) == (2, [])
    assert (
        "the rule injection-required/istio.capture-flags" not in err
    )  # named as the policy lists it
    assert "the rule injection-required/capture-flags: needs Kubernetes 1.33 or later" in err
    assert "use enforcement: both to leave it to the webhook" in err


def test_both_leaves_to_the_webhook_what_the_release_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = spec(tmp_path, admission="enforcement: both")
    code, objects, err = render(capsys, "-s", str(path), "--kube-version", "1.31")
    assert code == 0
    assert "left to the webhook on Kubernetes 1.31: injection-required/capture-flags" in err
    (policy,) = [o for o in objects if o["kind"] == "ValidatingAdmissionPolicy"]
    names = {v["name"] for v in policy["spec"]["variables"]}
    assert (
        "finding_istio_capture_flags" not in names
        and "finding_injection_required_host_network" in names
    )
    assert not any(
        ".transformList(" in v["expression"] or ".sort()" in v["expression"]
        for v in policy["spec"]["variables"]
    )


def test_before_1_30_native_enforcement_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = render(capsys, "-s", str(spec(tmp_path)), "--kube-version", "1.29")
    assert code == 2
    assert "Kubernetes 1.29 has no ValidatingAdmissionPolicy v1 (GA in 1.30)" in err
    code, _, err = render(capsys, "-s", str(spec(tmp_path)), "--kube-version", "latest")
    assert code == 2 and "'latest' is not a Kubernetes version" in err


@pytest.mark.parametrize("enforcement", ["native", "both"])
def test_a_mesh_whose_rules_have_no_cel_forms_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], enforcement: str
) -> None:
    code, objects, err = render(
        capsys, "-s", str(spec(tmp_path, "kuma", f"enforcement: {enforcement}"))
    )
    assert code == 2 and objects == []
    assert "spec.admission.enforcement: kuma's rules have no CEL forms yet" in err
    # The webhook alone renders as before.
    code, objects, _ = render(capsys, "-s", str(spec(tmp_path, "kuma", "enforcement: webhook")))
    assert code == 0 and objects
    assert not {o["kind"] for o in objects} & set(ADMISSION)
