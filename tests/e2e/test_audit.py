"""`meshc audit` against a real kube-apiserver: what was stored before any webhook judged it.

No webhook is registered while these objects are written, so violating ones
are stored as written, as they would be in a cluster where the webhook was
installed after them. The audit reads them back, judges each as an update
that leaves it as it is, and writes policy reports into the same API server,
with the upstream report CRDs installed; a second run changes nothing.

Everything lives in this module's own namespaces and its own mesh name; the
audit is always limited to those namespaces (``--namespace``), so other
tests' objects in the session's API server are neither read nor reported.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from meshc.cli import main
from support.api_server import inject
from support.apply import apply_objects, request
from support.helm_chart import objects, render
from support.kube import KubeAPIServer, write_kubeconfig
from support.paths import EXAMPLES
from support.schemas import validate

pytestmark = pytest.mark.tools

MESH = "audit-e2e"
SHOP = "audit-shop"  # meshed (the quickstart's mesh-demo)
SIDE = "audit-side"  # neither meshed nor allowed
NAMESPACES = ["-n", SHOP, "-n", SIDE]
IMAGE = "hashicorp/http-echo:1.0"

Obj = dict[str, Any]


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def pod(name: str, ns: str, injected: bool) -> Obj:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"containers": [{"name": "web", "image": IMAGE}]},
    }
    return inject(obj, "istio") if injected else obj


def deployment(name: str, ns: str, labels: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, **(labels or {})}},
                "spec": {"containers": [{"name": "web", "image": IMAGE}]},
            },
        },
    }


def peer_authentication(name: str, mode: str) -> Obj:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": name, "namespace": SHOP},
        "spec": {"mtls": {"mode": mode}},
    }


def virtual_service(name: str, ns: str) -> Obj:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"hosts": ["web"], "http": [{"route": [{"destination": {"host": "web"}}]}]},
    }


def service_account(ns: str, name: str = "default") -> Obj:
    # The ServiceAccount admission plugin refuses Pods until "default" exists.
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": ns},
    }


VIOLATING = [
    pod("no-proxy", SHOP, injected=False),
    deployment("opted-out", SHOP, {"sidecar.istio.io/inject": "false"}),
    peer_authentication("permissive", "PERMISSIVE"),
    virtual_service("elsewhere", SIDE),
]
COMPLIANT = [
    pod("injected", SHOP, injected=True),
    deployment("web", SHOP),
    peer_authentication("strict", "STRICT"),
    pod("unmeshed", SIDE, injected=False),
]
# (policy, kind, namespace/name) of every finding: the violating objects and
# the meshed namespace, created without the injection label no webhook added.
EXPECTED = {
    ("injection-required", "Namespace", SHOP),
    ("injection-required", "Pod", f"{SHOP}/no-proxy"),
    ("injection-required", "Deployment", f"{SHOP}/opted-out"),
    ("mtls-strict", "PeerAuthentication", f"{SHOP}/permissive"),
    ("allowed-namespaces", "VirtualService", f"{SIDE}/elsewhere"),
}


@dataclass(frozen=True)
class Cluster:
    server: KubeAPIServer
    api: k8s.ApiClient
    spec: Path

    def audit(self, *args: str) -> int:
        return main(["audit", "--spec", str(self.spec), "--kubeconfig",
                     str(self.server.kubeconfig), *NAMESPACES, *args])  # fmt: skip

    def get(self, path: str) -> Obj:
        status, data = request(self.api, "GET", path)
        assert status == 200, (path, data)
        return data


@pytest.fixture(scope="module")
def cluster(
    kube_apiserver: KubeAPIServer,
    kube_client: k8s.ApiClient,
    installed_crds: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    assert "reports.openreports.io" in installed_crds
    assert "policyreports.wgpolicyk8s.io" in installed_crds
    text = (EXAMPLES / "quickstart" / "mesh.yaml").read_text()
    text = text.replace("mesh-demo", SHOP).replace("name: quickstart", f"name: {MESH}")
    spec = tmp_path_factory.mktemp("audit") / "mesh.yaml"
    spec.write_text(text)
    objects = [namespace(SHOP), namespace(SIDE), service_account(SHOP), service_account(SIDE)]
    errors = apply_objects(kube_client, objects + VIOLATING + COMPLIANT, dry_run=False)
    assert [str(e) for e in errors] == []
    yield Cluster(kube_apiserver, kube_client, spec)
    for ns in (SHOP, SIDE):
        request(kube_client, "DELETE", f"/api/v1/namespaces/{ns}")
    request(kube_client, "DELETE", f"/apis/openreports.io/v1alpha1/clusterreports/meshc-{MESH}")
    request(
        kube_client, "DELETE", f"/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports/meshc-{MESH}"
    )


def findings(out: str) -> set[tuple[str, str, str]]:
    rows = json.loads(out)
    return {(r["policy"], r["kind"], f"{r['namespace']}/{r['name']}".lstrip("/")) for r in rows}


def test_objects_stored_before_any_webhook_are_judged_as_admission_would_judge_them(
    cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cluster.audit("--format", "json") == 1
    out, err = capsys.readouterr()
    assert findings(out) == EXPECTED
    assert "audited 10 objects" in err and "5 denied" in err


def test_a_live_pod_is_judged_by_what_it_runs_not_by_what_it_asked_for(
    cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cluster.audit("--format", "json") == 1
    rows = [r for r in json.loads(capsys.readouterr().out) if r["kind"] == "Pod"]
    assert [r["name"] for r in rows] == ["no-proxy"]
    assert rows[0]["path"] == "spec.containers"
    assert "runs without" in rows[0]["problem"]


def test_every_check_format_carries_the_findings(
    cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cluster.audit("--format", "text") == 1
    text = capsys.readouterr().out
    assert f"[meshc:mtls-strict] PeerAuthentication {SHOP}/permissive: spec.mtls.mode:" in text
    assert "audited 10 objects" in text.splitlines()[-1]

    assert cluster.audit("--format", "github") == 1
    github = capsys.readouterr().out.splitlines()
    assert len(github) == len(EXPECTED)
    assert all(line.startswith("::error title=meshc%3A") for line in github)

    assert cluster.audit("--format", "sarif") == 1
    sarif = json.loads(capsys.readouterr().out)
    results = sarif["runs"][0]["results"]
    names = {r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] for r in results}
    assert f"Pod/{SHOP}/no-proxy" in names and len(results) == len(EXPECTED)


def reports(cluster: Cluster, group_version: str, plural: str) -> dict[str, Obj]:
    found = {}
    for ns in (SHOP, SIDE):
        report = cluster.get(f"/apis/{group_version}/namespaces/{ns}/{plural}/meshc-{MESH}")
        found[ns] = report
    return found


def test_reports_are_written_one_per_namespace_and_validate_against_their_crds(
    cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cluster.audit("--report", "--report-api", "openreports",
                         "--report-api", "wgpolicyk8s", "--format", "json") == 1  # fmt: skip
    capsys.readouterr()
    for group_version, plural, cluster_path in (
        ("openreports.io/v1alpha1", "reports", "clusterreports"),
        ("wgpolicyk8s.io/v1alpha2", "policyreports", "clusterpolicyreports"),
    ):
        namespaced = reports(cluster, group_version, plural)
        whole = cluster.get(f"/apis/{group_version}/{cluster_path}/meshc-{MESH}")
        for report in [*namespaced.values(), whole]:
            assert validate(report) == [], report["kind"]
            assert report["metadata"]["labels"]["meshc.io/mesh"] == MESH
        shop = namespaced[SHOP]
        assert shop["summary"] == {"pass": 0, "fail": 3, "warn": 0, "error": 0, "skip": 0}
        assert shop["metadata"]["annotations"]["meshc.io/audited-objects"] == "6"
        by_name = {r["resources"][0]["name"]: r for r in shop["results"]}
        pa = by_name["permissive"]
        assert pa["policy"] == "mtls-strict" and pa["rule"] == "spec.mtls.mode"
        assert pa["result"] == "fail" and pa["severity"] == "high"
        assert pa["resources"][0]["kind"] == "PeerAuthentication"
        assert pa["resources"][0]["namespace"] == SHOP and pa["resources"][0]["uid"]
        assert pa["message"].startswith(f"[meshc:mtls-strict] PeerAuthentication {SHOP}/permissive")
        assert "STRICT" in pa["properties"]["fix"]
        side = namespaced[SIDE]
        assert [r["policy"] for r in side["results"]] == ["allowed-namespaces"]
        assert [r["resources"][0]["name"] for r in whole["results"]] == [SHOP]


def resource_versions(cluster: Cluster) -> dict[str, str]:
    versions = {}
    for group_version, plural in (("openreports.io/v1alpha1", "reports"),
                                  ("wgpolicyk8s.io/v1alpha2", "policyreports")):  # fmt: skip
        for ns, report in reports(cluster, group_version, plural).items():
            versions[f"{plural}/{ns}"] = report["metadata"]["resourceVersion"]
    return versions


def test_a_second_run_over_an_unchanged_cluster_writes_nothing(
    cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--report", "--report-api", "openreports", "--report-api", "wgpolicyk8s")
    cluster.audit(*args)
    capsys.readouterr()
    before = resource_versions(cluster)
    whole = cluster.get(f"/apis/openreports.io/v1alpha1/clusterreports/meshc-{MESH}")

    assert cluster.audit(*args) == 1
    out = capsys.readouterr().out
    assert "openreports.io reports: 0 created, 0 updated, 3 unchanged, 0 deleted" in out
    assert "wgpolicyk8s.io reports: 0 created, 0 updated, 3 unchanged, 0 deleted" in out
    assert resource_versions(cluster) == before
    again = cluster.get(f"/apis/openreports.io/v1alpha1/clusterreports/meshc-{MESH}")
    assert again["metadata"]["resourceVersion"] == whole["metadata"]["resourceVersion"]


def test_fixing_an_object_updates_its_report_and_keeps_the_other_findings_dates(
    cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster.audit("--report")
    before = reports(cluster, "openreports.io/v1alpha1", "reports")[SHOP]
    stamps = {r["resources"][0]["name"]: r["timestamp"] for r in before["results"]}
    status, _ = request(cluster.api, "DELETE", f"/api/v1/namespaces/{SHOP}/pods/no-proxy",
                        query={"gracePeriodSeconds": "0"})  # fmt: skip
    assert status == 200
    try:
        assert cluster.audit("--report") == 1
        assert "0 created, 1 updated, 2 unchanged, 0 deleted" in capsys.readouterr().out
        after = reports(cluster, "openreports.io/v1alpha1", "reports")[SHOP]
        assert {r["resources"][0]["name"] for r in after["results"]} == {"opted-out", "permissive"}
        assert all(r["timestamp"] == stamps[r["resources"][0]["name"]] for r in after["results"])
        assert after["summary"]["fail"] == 2
    finally:
        assert apply_objects(cluster.api, [pod("no-proxy", SHOP, injected=False)], False) == []


def test_an_api_server_that_cannot_be_reached_is_named(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"https://127.0.0.1:{port}"
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", url, cluster.server.ca_file, "x")
    assert main(["audit", "--spec", str(cluster.spec), "--kubeconfig", str(kubeconfig)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"meshc audit: cannot reach the API server at {url}: ")
    assert "Traceback" not in err


def test_a_forbidden_list_names_what_could_not_be_listed(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A service account with no role at all, its token from the TokenRequest API.
    assert apply_objects(cluster.api, [service_account(SHOP, "nobody")], False) == []
    status, data = request(
        cluster.api, "POST", f"/api/v1/namespaces/{SHOP}/serviceaccounts/nobody/token",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
    )  # fmt: skip
    assert status == 201, data
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", cluster.server.url,
                                  cluster.server.ca_file, data["status"]["token"])  # fmt: skip
    code = main(["audit", "--spec", str(cluster.spec), "--kubeconfig", str(kubeconfig), "-n", SHOP])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"meshc audit: the API server refused to list pods in namespace {SHOP}: 403"
    )
    assert "system:serviceaccount:audit-shop:nobody" in err


def test_the_charts_audit_role_is_enough_to_audit_and_report_and_no_more(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The chart's own service account, role and binding, as `helm install` creates them,
    # in a release namespace of this module's own.
    release_ns = "audit-release"
    values = {"audit": {"enabled": True, "reports": {"apis": ["openreports", "wgpolicyk8s"]}}}
    rendered = render(values, namespace=release_ns, release="audit-e2e")
    rbac = [o for o in objects(rendered)
            if o["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")
            and o["metadata"]["name"].endswith("-audit")]  # fmt: skip
    assert len(rbac) == 3
    assert apply_objects(cluster.api, rbac, dry_run=False) == []
    try:
        account = next(o for o in rbac if o["kind"] == "ServiceAccount")["metadata"]["name"]
        status, data = request(
            cluster.api, "POST", f"/api/v1/namespaces/{release_ns}/serviceaccounts/{account}/token",
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
        )  # fmt: skip
        assert status == 201, data
        token = data["status"]["token"]
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", cluster.server.url,
                                      cluster.server.ca_file, token)  # fmt: skip
        args = ["audit", "--spec", str(cluster.spec), "--kubeconfig", str(kubeconfig), *NAMESPACES,
                "--report", "--report-api", "openreports", "--report-api", "wgpolicyk8s"]  # fmt: skip
        assert main(args) == 1
        out = capsys.readouterr().out
        assert "audited 10 objects" in out and "openreports.io reports:" in out
        # Nothing more: it cannot write what it audits.
        with AuditorClient(cluster.server, token) as auditor:
            status, _ = request(auditor, "POST", f"/api/v1/namespaces/{SHOP}/pods",
                                body=pod("sneaky", SHOP, injected=False))  # fmt: skip
            assert status == 403
            status, _ = request(auditor, "GET", f"/api/v1/namespaces/{SHOP}/secrets")
            assert status == 403
    finally:
        for obj in rbac:
            kind = obj["kind"]
            name = obj["metadata"]["name"]
            if kind == "ServiceAccount":
                path = f"/api/v1/namespaces/{release_ns}/serviceaccounts/{name}"
            else:
                path = f"/apis/rbac.authorization.k8s.io/v1/{kind.lower()}s/{name}"
            request(cluster.api, "DELETE", path)
        request(cluster.api, "DELETE", f"/api/v1/namespaces/{release_ns}")


class AuditorClient:
    """An API client that authenticates with ``token`` instead of the admin's."""

    def __init__(self, server: KubeAPIServer, token: str) -> None:
        configuration = server.configuration()
        configuration.api_key = {"authorization": token}
        self.api = k8s.ApiClient(configuration)

    def __enter__(self) -> k8s.ApiClient:
        return self.api

    def __exit__(self, *_: object) -> None:
        self.api.close()
