"""meshc import --kubeconfig against the real kube-apiserver: bookinfo's objects created in
the cluster import to the spec their files import to (the server's own fields dropped), and
objects meshc rendered are skipped with a line."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s

from meshc.cli import main
from meshc.importer import import_manifests
from meshc.importer.draft import strip_origins
from meshc.policies.manifests import load_manifests
from support.apply import apply_objects, request
from support.kube import KubeAPIServer

UPSTREAM = Path(__file__).parents[1] / "upstream" / "bookinfo"
NS = "bookinfo-import"
FILES = (
    "platform/kube/bookinfo.yaml",
    "networking/destination-rule-all.yaml",
    "networking/virtual-service-reviews-90-10.yaml",
)


def _spec(spec: dict) -> dict:
    """The spec as data, its overrides in one order (the cluster lists objects by kind and
    name, the files hold them in their own order)."""
    out = json.loads(json.dumps(strip_origins(spec)))
    out["spec"].get("overrides", []).sort(key=lambda o: json.dumps(o["target"], sort_keys=True))
    return out


def test_a_cluster_imports_as_its_files_do_and_meshc_renders_are_skipped(
    kube_apiserver: KubeAPIServer,
    kube_client: k8s.ApiClient,
    installed_crds: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifests = load_manifests([str(UPSTREAM / f) for f in FILES])
    objects = [
        {**copy.deepcopy(m.obj), "metadata": {**m.obj["metadata"], "namespace": NS}}
        for m in manifests
    ]
    rendered = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {
            "name": "ratings",
            "namespace": NS,
            "labels": {"app.kubernetes.io/managed-by": "meshc"},
        },
        "spec": {"hosts": ["ratings"], "http": [{"route": [{"destination": {"host": "ratings"}}]}]},
    }
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NS, "labels": {"istio-injection": "enabled"}},
    }
    errors = apply_objects(kube_client, [namespace, *objects, rendered], dry_run=False)
    assert [str(e) for e in errors] == []
    try:
        out = tmp_path / "mesh.yaml"
        code = main(
            [
                "import",
                "--kubeconfig",
                str(kube_apiserver.kubeconfig),
                "--namespace",
                NS,
                "-o",
                str(out),
            ]
        )
        err = capsys.readouterr().err
        assert code == 0, err
        assert f"cluster: VirtualService {NS}/ratings: skipped: rendered by meshc" in err
        text = out.read_text()
        assert f"# from cluster: VirtualService {NS}/reviews" in text
        files = tmp_path / "bookinfo.yaml"
        files.write_text(yaml.safe_dump_all([namespace, *objects]), encoding="utf-8")
        from_files = import_manifests(load_manifests([str(files)]))
        assert _spec(yaml.safe_load(text)) == _spec(from_files.spec)
    finally:
        request(kube_client, "DELETE", f"/api/v1/namespaces/{NS}")
