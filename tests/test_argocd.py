"""Argo CD: the meshc Config Management Plugin, the example Applications, sync waves, no drift."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshc.compiler.loader import load_mesh
from meshc.compiler.objects import SYNC_WAVE_ANNOTATION
from meshc.compiler.serialize import dump_all
from meshc.compiler.targets import RenderOptions, render
from meshc.policies.mutation import NamespaceMutation
from meshc.webhook.mutate import namespace_patch
from support.examples import TARGETS
from support.paths import EXAMPLES, REPO
from support.schemas import validate
from support.specs import example_specs

ARGOCD = REPO / "argocd"
APPLICATIONS = sorted((ARGOCD / "applications").glob("*.yaml"))
# The fields of Argo CD's PluginConfig (cmpserver/plugin/config.go), which
# reads plugin.yaml; it is not a CRD, so no schema ships with the CRDs.
PLUGIN_SPEC_FIELDS = {
    "version",
    "init",
    "generate",
    "discover",
    "allowConcurrency",
    "lockRepo",
    "parameters",
    "preserveFileMode",
    "provideGitCreds",
}
PARAMETER_FIELDS = {
    "name",
    "title",
    "tooltip",
    "required",
    "itemType",
    "collectionType",
    "string",
    "array",
    "map",
}
NAMESPACES, POLICIES, ROUTES = (
    {"Namespace"},
    {
        "PeerAuthentication",
        "AuthorizationPolicy",
        "Server",
        "MeshTLSAuthentication",
        "MeshTrafficPermission",
        "ServiceDefaults",
        "ServiceIntentions",
    },
    {
        "VirtualService",
        "DestinationRule",
        "HTTPRoute",
        "TrafficSplit",
        "ServiceProfile",
        "MeshHTTPRoute",
        "MeshTimeout",
        "MeshRetry",
        "MeshCircuitBreaker",
        "ServiceResolver",
        "ServiceSplitter",
        "ServiceRouter",
    },
)


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def plugin_config() -> dict[str, Any]:
    (configmap,) = load_all(ARGOCD / "meshc-cmp-plugin.yaml")
    config: dict[str, Any] = yaml.safe_load(configmap["data"]["plugin.yaml"])
    return config


def renders() -> Iterator[tuple[str, list[dict[str, Any]], Any]]:
    """Every example rendered for every target, with the mesh it came from."""
    for spec in example_specs():
        mesh = load_mesh(str(spec))
        for target in TARGETS:
            objects, _ = render(mesh, target.options(allow_lossy=True), target.provider)
            yield f"{spec.parent.name}/{target.id}", objects, (mesh, target.provider)


RENDERS = list(renders())
IDS = [name for name, _, _ in RENDERS]


@pytest.mark.parametrize("path", APPLICATIONS + [ARGOCD / "appproject.yaml"], ids=lambda p: p.name)
def test_applications_and_the_project_are_valid_for_argo_cds_crds(path):
    for obj in load_all(path):
        assert validate(obj) == []


def test_the_plugin_configuration_has_only_fields_argo_cd_reads():
    config = plugin_config()
    assert config["apiVersion"] == "argoproj.io/v1alpha1"
    assert config["kind"] == "ConfigManagementPlugin"
    assert config["metadata"]["name"]
    spec = config["spec"]
    assert set(spec) <= PLUGIN_SPEC_FIELDS
    assert spec["generate"]["command"]
    # Argo CD refuses a plugin that cannot be discovered by any of these.
    discover = spec["discover"]
    assert (
        discover.get("fileName")
        or discover.get("find", {}).get("glob")
        or discover.get("find", {}).get("command")
    )
    for parameter in spec["parameters"]["static"]:
        assert set(parameter) <= PARAMETER_FIELDS


def test_the_plugin_application_names_the_plugin_as_argo_cd_registers_it():
    config = plugin_config()
    registered = f"{config['metadata']['name']}-{config['spec']['version']}"
    (app,) = load_all(ARGOCD / "applications" / "mesh-plugin.yaml")
    assert app["spec"]["source"]["plugin"]["name"] == registered
    announced = {p["name"] for p in config["spec"]["parameters"]["static"]}
    assert {p["name"] for p in app["spec"]["source"]["plugin"]["parameters"]} <= announced


def generate(directory: Path, **params: str) -> subprocess.CompletedProcess[str]:
    """Run the plugin's generate command as the CMP server does: in the app's directory."""
    command = plugin_config()["spec"]["generate"]
    # The sidecar image has meshc on its PATH; here it is beside the test's Python.
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env |= {f"PARAM_{name.upper().replace('-', '_')}": value for name, value in params.items()}
    return subprocess.run(
        [*command["command"], *command["args"]],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_plugin_generates_what_meshc_render_prints(tmp_path):
    shutil.copy(EXAMPLES / "quickstart" / "mesh.yaml", tmp_path / "mesh.yaml")
    result = generate(tmp_path)
    assert result.returncode == 0, result.stderr
    objects, _ = render(
        load_mesh("mesh.yaml", text=(tmp_path / "mesh.yaml").read_text()), RenderOptions()
    )
    assert result.stdout == dump_all(objects)


def test_plugin_parameters_become_render_options(tmp_path):
    shutil.copy(EXAMPLES / "linkerd-quickstart" / "mesh.yaml", tmp_path / "routes.yaml")
    result = generate(tmp_path, spec="routes.yaml", **{"linkerd-routing": "smi"})
    assert result.returncode == 0, result.stderr
    kinds = {doc["kind"] for doc in yaml.safe_load_all(result.stdout)}
    assert "TrafficSplit" in kinds and "HTTPRoute" not in kinds


def test_a_spec_error_fails_the_generate_command_with_its_line(tmp_path):
    (tmp_path / "mesh.yaml").write_text(
        (EXAMPLES / "quickstart" / "mesh.yaml")
        .read_text()
        .replace("mtls: STRICT", "mtls: SOMETIMES")
    )
    result = generate(tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "mesh.yaml:7:9: spec.mtls:" in result.stderr


def test_the_sidecar_mounts_the_plugin_configuration_that_is_shipped():
    (configmap,) = load_all(ARGOCD / "meshc-cmp-plugin.yaml")
    (patch,) = load_all(ARGOCD / "repo-server-patch.yaml")
    pod = patch["spec"]["template"]["spec"]
    (sidecar,) = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in sidecar["volumeMounts"]}
    config_mount = mounts["/home/argocd/cmp-server/config/plugin.yaml"]
    assert volumes[config_mount["name"]]["configMap"]["name"] == configmap["metadata"]["name"]
    assert config_mount["subPath"] in configmap["data"]
    # The CMP server binary and its socket live in the repo server's own volumes.
    assert sidecar["command"] == ["/var/run/argocd/argocd-cmp-server"]
    assert mounts["/var/run/argocd"]["name"] == "var-files"
    assert mounts["/home/argocd/cmp-server/plugins"]["name"] == "plugins"
    assert sidecar["securityContext"]["runAsUser"] == 999


def test_the_sidecar_is_a_valid_container_of_a_deployment():
    (patch,) = load_all(ARGOCD / "repo-server-patch.yaml")
    pod = patch["spec"]["template"]["spec"]
    # The volumes the patch refers to but does not define are the repo server's own.
    inherited = [{"name": "var-files", "emptyDir": {}}, {"name": "plugins", "emptyDir": {}}]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "argocd-repo-server", "namespace": "argocd"},
        "spec": {
            "selector": {"matchLabels": {"app": "repo-server"}},
            "template": {
                "metadata": {"labels": {"app": "repo-server"}},
                "spec": {**pod, "volumes": pod["volumes"] + inherited},
            },
        },
    }
    assert validate(deployment) == []


def test_the_kustomization_lists_files_that_exist():
    kustomization = yaml.safe_load((ARGOCD / "kustomization.yaml").read_text())
    local = [r for r in kustomization["resources"] if "://" not in r]
    local += [p["path"] for p in kustomization["patches"]]
    assert local and all((ARGOCD / name).is_file() for name in local)


@pytest.mark.parametrize(("name", "objects", "origin"), RENDERS, ids=IDS)
def test_the_project_admits_every_kind_meshc_renders(name, objects, origin):
    (project,) = load_all(ARGOCD / "appproject.yaml")
    spec = project["spec"]

    def allowed(rules: list[dict[str, str]], group: str, kind: str) -> bool:
        return any(r["group"] == group and r["kind"] in ("*", kind) for r in rules)

    for obj in objects:
        group = obj["apiVersion"].rpartition("/")[0]
        rules = (
            spec["namespaceResourceWhitelist"]
            if "namespace" in obj["metadata"]
            else spec["clusterResourceWhitelist"]
        )
        assert allowed(rules, group, obj["kind"]), (
            f"{obj['kind']}.{group} is not in {name}'s project"
        )


@pytest.mark.parametrize(("name", "objects", "origin"), RENDERS, ids=IDS)
def test_sync_waves_apply_namespaces_then_mesh_policy_then_routes(name, objects, origin):
    waves: dict[str, set[int]] = {"namespaces": set(), "policies": set(), "routes": set()}
    for obj in objects:
        wave = int(obj["metadata"]["annotations"][SYNC_WAVE_ANNOTATION])
        for group, kinds in (
            ("namespaces", NAMESPACES),
            ("policies", POLICIES),
            ("routes", ROUTES),
        ):
            if obj["kind"] in kinds:
                waves[group].add(wave)
    assert waves["namespaces"], f"{name} renders no Namespace"
    assert max(waves["namespaces"]) < min(waves["policies"] | waves["routes"])
    if waves["policies"] and waves["routes"]:
        assert max(waves["policies"]) < min(waves["routes"])


def admission_request(obj: dict[str, Any], operation: str) -> dict[str, Any]:
    group, _, version = obj["apiVersion"].rpartition("/")
    meta = obj["metadata"]
    return {
        "uid": "argocd-sync",
        "operation": operation,
        "kind": {"group": group, "version": version, "kind": obj["kind"]},
        "name": meta["name"],
        "namespace": meta.get("namespace", ""),
        "object": obj,
    }


@pytest.mark.parametrize(("name", "objects", "origin"), RENDERS, ids=IDS)
@pytest.mark.parametrize("operation", ["CREATE", "UPDATE"])
def test_the_mutating_webhook_patches_nothing_meshc_rendered(name, objects, origin, operation):
    # What Argo CD applies is what it later reads back: no patch, no drift.
    mesh, provider = origin
    mutation = NamespaceMutation.of(mesh, provider)
    assert any(
        o["kind"] == "Namespace" and o["metadata"]["name"] in mutation.meshed for o in objects
    )
    for obj in objects:
        assert namespace_patch(admission_request(obj, operation), mutation) is None, obj


@pytest.mark.parametrize(("name", "objects", "origin"), RENDERS, ids=IDS)
def test_a_namespace_without_the_markers_would_be_patched(name, objects, origin):
    # The counterpart of the test above: the webhook does act on a Namespace meshc did not render.
    mesh, provider = origin
    namespace = next(o for o in objects if o["kind"] == "Namespace")
    bare = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace["metadata"]["name"]},
    }
    assert namespace_patch(admission_request(bare, "CREATE"), NamespaceMutation.of(mesh, provider))
