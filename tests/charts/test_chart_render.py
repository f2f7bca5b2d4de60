"""charts/meshc renders with Helm's engine, lints clean, and yields valid Kubernetes objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml

from meshc.compiler.schema import MESH_SCHEMA
from support.helm_chart import CHART, CI_VALUES, NAMESPACE, ci_values, objects, only, render

# The Kubernetes release tools/build.sh pins for the end-to-end API server.
KUBE_VERSION = "1.36.0"
CERT_MANAGER_KINDS = {"Issuer", "Certificate"}

VALUE_SETS = [pytest.param(None, id="defaults")] + [
    pytest.param(ci_values(p), id=p.name.removesuffix("-values.yaml")) for p in CI_VALUES
]


def test_every_advertised_ci_values_set_exists() -> None:
    assert sorted(p.name for p in CI_VALUES) == [
        "audit-values.yaml",
        "cert-manager-values.yaml",
        "istio-values.yaml",
        "linkerd-values.yaml",
        "opa-sidecar-values.yaml",
    ]


@pytest.mark.parametrize("values", VALUE_SETS)
def test_helm_lint_reports_no_errors_or_warnings(values: dict[str, Any] | None) -> None:
    report = helm.lint(CHART, values, namespace=NAMESPACE, strict=True)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == [], problems or report["errors"]


@pytest.mark.parametrize("values", VALUE_SETS)
def test_rendered_objects_are_valid_kubernetes_objects(values: dict[str, Any] | None) -> None:
    rendered = objects(render(values))
    assert rendered, "the chart rendered nothing"
    errors = []
    for obj in rendered:
        if obj["kind"] in CERT_MANAGER_KINDS:
            continue  # no schema for cert-manager's CRDs here; test_chart_tls checks them
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")
    assert errors == []


@pytest.mark.parametrize("values", VALUE_SETS)
def test_every_namespaced_object_lands_in_the_release_namespace(
    values: dict[str, Any] | None,
) -> None:
    cluster_scoped = {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
                      "ClusterRole", "ClusterRoleBinding"}  # fmt: skip
    for obj in objects(render(values, namespace="policy")):
        expected = None if obj["kind"] in cluster_scoped else "policy"
        assert obj["metadata"].get("namespace") == expected, obj["kind"]


@pytest.mark.parametrize("values", VALUE_SETS)
def test_the_configmap_carries_a_valid_mesh_spec_naming_the_release_namespace(
    values: dict[str, Any] | None,
) -> None:
    configmap = only(render(values, namespace="policy"), "ConfigMap")
    spec = yaml.safe_load(configmap["data"]["mesh.yaml"])
    jsonschema.validate(spec, MESH_SCHEMA)
    assert spec["spec"]["admission"]["webhookNamespace"] == "policy"


def test_the_default_spec_warns_and_never_denies() -> None:
    spec = yaml.safe_load(only(render(), "ConfigMap")["data"]["mesh.yaml"])
    modes = spec["spec"]["admission"]["policies"]
    assert set(modes) == set(
        MESH_SCHEMA["properties"]["spec"]["properties"]["admission"]["properties"]["policies"][
            "properties"
        ]
    )
    assert set(modes.values()) == {"warn"}


def test_a_spec_object_is_not_merged_with_the_placeholder() -> None:
    mine = {
        "apiVersion": "meshc.io/v1alpha1",
        "kind": "Mesh",
        "metadata": {"name": "shop"},
        "spec": {"provider": "linkerd", "namespaces": [{"name": "shop"}]},
    }
    spec = yaml.safe_load(only(render({"spec": mine}), "ConfigMap")["data"]["mesh.yaml"])
    assert spec["spec"]["namespaces"] == [{"name": "shop"}]
    assert "policies" not in spec["spec"]["admission"]


def test_a_spec_given_as_a_string_is_the_same_spec_as_the_object() -> None:
    mine = {
        "apiVersion": "meshc.io/v1alpha1",
        "kind": "Mesh",
        "metadata": {"name": "shop"},
        "spec": {"provider": "istio", "namespaces": [{"name": "shop"}]},
    }
    as_object = only(render({"spec": mine}), "ConfigMap")["data"]["mesh.yaml"]
    as_string = only(render({"spec": yaml.safe_dump(mine)}), "ConfigMap")["data"]["mesh.yaml"]
    assert yaml.safe_load(as_string) == yaml.safe_load(as_object)


def test_a_changed_spec_rolls_the_pods() -> None:
    def checksum(values: dict[str, Any] | None) -> str:
        deployment = only(render(values), "Deployment")
        annotations: dict[str, str] = deployment["spec"]["template"]["metadata"]["annotations"]
        return annotations["checksum/spec"]

    istio = ci_values(CHART / "ci" / "istio-values.yaml")
    assert checksum(istio) == checksum(istio)
    assert checksum(istio) != checksum(None)


# --- values the chart refuses ---------------------------------------------------------

SECTIONS = [
    "image",
    "server",
    "webhook",
    "webhook.failurePolicy",
    "tls",
    "tls.helm",
    "tls.certManager",
    "opa",
    "opa.sidecar",
    "opa.sidecar.image",
    "serviceAccount",
    "podDisruptionBudget",
    "audit",
    "audit.reports",
]


def _nest(dotted: str, leaf: dict[str, Any]) -> dict[str, Any]:
    for key in reversed(dotted.split(".")):
        leaf = {key: leaf}
    return leaf


@pytest.mark.parametrize("section", ["(top level)", *SECTIONS])
def test_the_schema_rejects_unknown_keys_in_the_charts_own_sections(section: str) -> None:
    values = {"replicas": 2} if section == "(top level)" else _nest(section, {"typo": True})
    with pytest.raises(helm.HelmValuesError, match="typo|replicas"):
        render(values)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"webhook": {"timeoutSeconds": 6}}, "timeoutSeconds"),
        (
            {"webhook": {"failurePolicy": {"validating": "Never", "mutating": "Ignore"}}},
            "validating",
        ),
        ({"runAsUser": 1337}, "runAsUser"),
        ({"runAsUser": 2102}, "runAsUser"),
        ({"runAsUser": 0}, "runAsUser"),
        ({"tls": {"mode": "self-signed"}}, "mode"),
        ({"server": {"failureMode": "maybe"}}, "failureMode"),
        ({"server": {"engine": "opa"}}, "engine"),
        ({"webhook": {"url": "http://127.0.0.1:8443"}}, "url"),
        ({"image": {"digest": "latest"}}, "digest"),
        ({"spec": 42}, "spec"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_the_schema_rejects_unsafe_or_malformed_values(values: dict[str, Any], field: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=field):
        render(values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"webhook": {"url": "https://127.0.0.1:8443"}}, "webhook.url needs webhook.caBundle"),
        ({"webhook": {"caBundle": "Zm9v"}}, "only used with webhook.url"),
        (
            {
                "tls": {
                    "mode": "cert-manager",
                    "certManager": {"issuerRef": {"kind": "ClusterIssuer"}},
                }
            },
            "issuerRef needs a name",
        ),
        (
            {"spec": "apiVersion: meshc.io/v1alpha1\nkind: Mesh\n: : nope\n"},
            "values.spec is not valid YAML",
        ),
    ],
)
def test_bad_value_combinations_fail_before_anything_is_installed(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmError, match=message):
        render(values)


def test_a_spec_for_another_webhook_namespace_is_refused() -> None:
    spec = ci_values(CHART / "ci" / "istio-values.yaml")["spec"]
    spec["spec"]["admission"]["webhookNamespace"] = "elsewhere"
    with pytest.raises(
        helm.HelmRenderError, match='"elsewhere" but the release namespace is "policy"'
    ):
        render({"spec": spec}, namespace="policy")


def test_values_yaml_documents_every_top_level_key() -> None:
    """Each top-level key sits in a paragraph that opens with a prose comment."""
    paragraphs = (CHART / "values.yaml").read_text().split("\n\n")
    undocumented = [
        line.split(":")[0]
        for paragraph in paragraphs
        if not paragraph.lstrip("\n").startswith("#")
        for line in paragraph.splitlines()
        if line and not line.startswith((" ", "#"))
    ]
    assert undocumented == []


def test_the_chart_files_are_where_helm_expects_them() -> None:
    for name in ("Chart.yaml", "values.yaml", "values.schema.json", "templates/NOTES.txt"):
        assert (CHART / name).is_file(), name
    assert Path(CHART / "files" / "default-mesh.yaml").is_file()
