"""`meshc check --spec` over hand-written manifests that collide with what the spec renders:
Istio's bookinfo sample with its own networking files (tests/upstream/SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshc.cli import main
from meshc.policies.conflicts import host_service
from support.paths import REPO
from support.specs import write_spec

BOOKINFO = REPO / "tests" / "upstream" / "bookinfo"
SPEC = """\
apiVersion: meshc.io/v1alpha1
kind: Mesh
metadata: {name: bookinfo}
spec:
  provider: istio
  namespaces: [{name: bookinfo}]
  services:
    - name: reviews
      namespace: bookinfo
      selector: {app: reviews}
      ports: [{name: http, port: 9080, targetPort: 9080}]
      versions:
        - {name: v1, labels: {version: v1}}
        - {name: v2, labels: {version: v2}}
      routes:
        - split: {v1: 90, v2: 10}
"""


def check(
    spec: Path, *paths: Path | str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[dict[str, Any]]]:
    code = main(
        ["check", "--spec", str(spec), "--format", "json", "-n", "bookinfo", *map(str, paths)]
    )
    return code, json.loads(capsys.readouterr().out)


def conflicts(rows: list[dict[str, Any]]) -> list[tuple[str, int, str, str]]:
    return sorted(
        (Path(r["file"]).relative_to(BOOKINFO).as_posix(), r["line"], r["kind"], r["path"])
        for r in rows
        if r["policy"] == "spec-conflict"
    )


def test_bookinfos_own_routing_and_service_for_a_service_the_spec_routes_are_conflicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(tmp_path, SPEC)
    code, rows = check(spec, BOOKINFO, capsys=capsys)
    assert code == 1
    assert conflicts(rows) == [
        # an HTTPRoute whose parent is the Service the spec routes
        ("gateway-api/route-reviews-90-10.yaml", 7, "HTTPRoute", "spec.parentRefs[0]"),
        # the same DestinationRule and VirtualServices (kind, namespace, name)
        ("networking/destination-rule-all.yaml", 15, "DestinationRule", "metadata.name"),
        ("networking/virtual-service-all-v1.yaml", 17, "VirtualService", "metadata.name"),
        ("networking/virtual-service-reviews-90-10.yaml", 4, "VirtualService", "metadata.name"),
        # the same Service
        ("platform/kube/bookinfo.yaml", 137, "Service", "metadata.name"),
    ]
    (vs,) = [r for r in rows if r["file"].endswith("virtual-service-reviews-90-10.yaml")]
    # Both places: the manifest's file:line, and the spec field it collides with.
    assert vs["message"] == (
        "[meshc:spec-conflict] VirtualService bookinfo/reviews: metadata.name: is an object meshc "
        f"renders from the spec (VirtualService bookinfo/reviews from {spec}#spec.services[0], "
        f"{spec}:8): two sources of one object overwrite each other on every sync; remove this "
        "manifest and express it in the spec (or as a spec.overrides patch)"
    )
    assert vs["source"] == f"{spec}#spec.services[0]"
    # The other services' routing, the gateway's and the egress rules are the team's own.
    assert {r["name"] for r in rows if r["policy"] == "spec-conflict"} == {"reviews"}


def test_the_apps_own_service_is_no_conflict_with_service_manage_false(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(
        tmp_path,
        SPEC.replace(
            "      routes:\n        - split: {v1: 90, v2: 10}\n", "      service: {manage: false}\n"
        ),
    )
    code, rows = check(spec, BOOKINFO / "platform", capsys=capsys)
    assert (code, conflicts(rows)) == (0, [])


def test_a_route_for_the_same_host_under_another_name_is_a_conflict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(tmp_path, SPEC)
    vs = yaml.safe_load(
        (BOOKINFO / "networking" / "virtual-service-reviews-90-10.yaml").read_text()
    )
    vs["metadata"] = {"name": "reviews-canary", "namespace": "shop"}
    vs["spec"]["hosts"] = ["reviews.bookinfo.svc.cluster.local"]
    path = tmp_path / "vs.yaml"
    path.write_text(yaml.safe_dump(vs, sort_keys=False))
    code, rows = check(spec, path, capsys=capsys)
    assert code == 1
    (row,) = [r for r in rows if r["policy"] == "spec-conflict"]
    line = next(
        i
        for i, text in enumerate(path.read_text().splitlines(), 1)
        if "reviews.bookinfo.svc.cluster.local" in text
    )
    assert (row["path"], row["line"]) == ("spec.hosts[0]", line)
    assert (
        "routes reviews.bookinfo, which the spec routes too (VirtualService bookinfo/reviews"
        in (row["problem"])
    )
    assert "istioctl analyze IST0109" in row["problem"]


def test_a_destination_rule_that_meets_neither_subsets_nor_traffic_policy_is_merged_by_istio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(tmp_path, SPEC)
    dr = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "reviews-v3", "namespace": "bookinfo"},
        "spec": {"host": "reviews", "subsets": [{"name": "v3", "labels": {"version": "v3"}}]},
    }
    path = tmp_path / "dr.yaml"
    path.write_text(yaml.safe_dump(dr))
    assert check(spec, path, capsys=capsys) == (0, [])
    dr["spec"]["subsets"][0]["name"] = "v2"
    path.write_text(yaml.safe_dump(dr))
    code, rows = check(spec, path, capsys=capsys)
    assert code == 1 and rows[0]["path"] == "spec.host"
    assert "Istio keeps the older rule's subset of a name" in rows[0]["problem"]


def test_meshcs_own_rendered_output_beside_the_manifests_is_no_conflict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(tmp_path, SPEC)
    assert main(["render", "--spec", str(spec), "-o", str(tmp_path / "rendered")]) == 0
    capsys.readouterr()
    code, rows = check(
        spec,
        tmp_path / "rendered",
        BOOKINFO / "networking" / "bookinfo-gateway.yaml",
        capsys=capsys,
    )
    assert (code, rows) == (0, [])


@pytest.mark.parametrize(
    ("host", "service"),
    [
        ("reviews", ("bookinfo", "reviews")),
        ("reviews.bookinfo", ("bookinfo", "reviews")),
        ("reviews.bookinfo.svc", ("bookinfo", "reviews")),
        ("reviews.bookinfo.svc.cluster.local", ("bookinfo", "reviews")),
        ("reviews.other", None),  # a namespace the spec does not know: an external host
        ("*.bookinfo.svc.cluster.local", None),
        ("www.googleapis.com", None),
    ],
)
def test_hosts_name_the_cluster_service_istio_resolves_them_to(
    host: str, service: tuple[str, str] | None
) -> None:
    assert host_service(host, "bookinfo", {"bookinfo"}) == service


CONSUL_SPEC = """\
apiVersion: meshc.io/v1alpha1
kind: Mesh
metadata: {name: shop}
spec:
  provider: consul
  namespaces: [{name: shop}]
  services:
    - name: web
      namespace: shop
      selector: {app: web}
      ports: [{name: http, port: 80, targetPort: 8080, protocol: http}]
      allow:
        - fromNamespaces: [shop]
    - name: api
      namespace: shop
      selector: {app: api}
      ports: [{name: http, port: 80, targetPort: 8080, protocol: http}]
"""


def consul_conflicts(
    tmp_path: Path, manifest: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> tuple[Path, list[dict[str, Any]]]:
    spec = write_spec(tmp_path, CONSUL_SPEC)
    path = tmp_path / "hand-written.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    main(["check", "--spec", str(spec), "--format", "json", "-n", "shop", str(path)])
    rows = json.loads(capsys.readouterr().out)
    return spec, [r for r in rows if r["policy"] == "spec-conflict"]


def intentions(name: str, destination: str) -> dict[str, Any]:
    return {
        "apiVersion": "consul.hashicorp.com/v1alpha1",
        "kind": "ServiceIntentions",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "destination": {"name": destination},
            "sources": [{"name": "api", "action": "allow"}],
        },
    }


def test_a_second_consul_service_intentions_for_a_rendered_destination_is_a_conflict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # consul-k8s writes a ServiceIntentions as the config entry of its destination
    # (ServiceIntentions.ConsulName is spec.destination.name), whatever the resource's name.
    spec, rows = consul_conflicts(tmp_path, intentions("web-from-api", "web"), capsys)
    (row,) = rows
    assert (row["kind"], row["name"], row["path"]) == (
        "ServiceIntentions",
        "web-from-api",
        "spec.destination.name",
    )
    lines = (tmp_path / "hand-written.yaml").read_text().splitlines()
    assert lines[row["line"] - 2 : row["line"]] == ["  destination:", "    name: web"]
    assert row["problem"] == (
        "is stored as ServiceIntentions web, as an object meshc renders from the spec is "
        f"(ServiceIntentions shop/web from {spec}#spec.services[0].allow, {spec}:13): Consul "
        "keeps one ServiceIntentions config entry of a name, whatever the Kubernetes "
        "namespace: consul-k8s's webhook refuses to create whichever resource comes second, "
        "and without the webhook the two overwrite each other's entry"
    )


def test_service_intentions_for_a_destination_the_spec_does_not_render_are_no_conflict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # api has no allow rules: the spec renders no intentions for it.
    assert consul_conflicts(tmp_path, intentions("api", "api"), capsys)[1] == []


def test_a_consul_config_entry_of_a_rendered_name_in_another_namespace_is_a_conflict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Consul CE has no namespaces: ServiceDefaults legacy/web configures the service web.
    defaults = {
        "apiVersion": "consul.hashicorp.com/v1alpha1",
        "kind": "ServiceDefaults",
        "metadata": {"name": "web", "namespace": "legacy"},
        "spec": {"protocol": "tcp"},
    }
    (row,) = consul_conflicts(tmp_path, defaults, capsys)[1]
    assert (row["namespace"], row["path"]) == ("legacy", "metadata.name")
    assert row["problem"].startswith("is stored as ServiceDefaults web, as an object meshc")
    defaults["metadata"]["name"] = "billing"
    assert consul_conflicts(tmp_path, defaults, capsys)[1] == []
