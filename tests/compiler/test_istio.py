"""The Istio target reproduces the seed's Istio quickstart, and what it adds is deliberate."""

from __future__ import annotations

from typing import Any

import pytest

from meshc.compiler.errors import SpecError
from meshc.compiler.loader import load_mesh
from meshc.compiler.objects import MANAGED_BY_LABEL, SOURCE_ANNOTATION
from meshc.compiler.targets import RenderOptions, render
from support.seed import seed_object
from support.specs import QUICKSTART, example_specs, quickstart, write_spec


def rendered(spec: str = str(QUICKSTART), **options: Any) -> dict[tuple[str, str], dict[str, Any]]:
    objects, _ = render(load_mesh(spec), RenderOptions.of(**options))
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def without_meshc_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items() if k not in ("labels", "annotations")}
    return {**obj, "metadata": meta}


def test_the_meshed_namespace_is_labelled_for_injection() -> None:
    ns = rendered()[("Namespace", "mesh-demo")]
    assert ns["metadata"]["labels"]["istio-injection"] == "enabled"
    assert "namespace" not in ns["metadata"]


@pytest.mark.parametrize("kind", ["DestinationRule", "VirtualService"])
def test_traffic_objects_equal_the_seed_but_for_api_version(kind: str) -> None:
    ours = without_meshc_metadata(rendered()[(kind, "web")])
    seed = seed_object(kind, "web", "mesh-demo")
    assert ours["apiVersion"] == "networking.istio.io/v1"
    assert {**ours, "apiVersion": seed["apiVersion"]} == seed


def test_peer_authentication_is_the_seeds_strict_default() -> None:
    ours = without_meshc_metadata(rendered()[("PeerAuthentication", "default")])
    seed = seed_object("PeerAuthentication", "default", "mesh-demo")
    assert {**ours, "apiVersion": seed["apiVersion"]} == seed


def test_authorization_policy_names_the_workload_port_not_the_service_port() -> None:
    ours = rendered()[("AuthorizationPolicy", "web-allow")]
    seed = seed_object("AuthorizationPolicy", "web-allow-same-namespace", "mesh-demo")
    # The seed's "80" is the Service port: Istio compares against the port the
    # workload receives on (targetPort 5678), so "80" would deny every request.
    assert seed["spec"]["rules"][0]["to"][0]["operation"]["ports"] == ["80"]
    assert ours["spec"]["rules"][0]["to"][0]["operation"]["ports"] == ["5678"]
    assert ours["spec"]["rules"][0]["from"] == seed["spec"]["rules"][0]["from"]
    assert ours["spec"]["selector"] == seed["spec"]["selector"]
    assert ours["spec"]["action"] == "ALLOW"


def test_the_service_is_the_seeds() -> None:
    ours = without_meshc_metadata(rendered()[("Service", "web")])
    assert ours == seed_object("Service", "web", "mesh-demo")


def test_every_object_carries_managed_by_and_its_source() -> None:
    for obj in rendered().values():
        assert obj["metadata"]["labels"][MANAGED_BY_LABEL] == "meshc"
        source = obj["metadata"]["annotations"][SOURCE_ANNOTATION]
        assert source.startswith("examples/quickstart/mesh.yaml#spec.")


def test_v1beta1_can_be_emitted_for_older_clusters() -> None:
    objects = rendered(istio_api="v1beta1")
    assert objects[("VirtualService", "web")]["apiVersion"] == "networking.istio.io/v1beta1"
    assert objects[("PeerAuthentication", "default")]["apiVersion"] == "security.istio.io/v1beta1"


def test_ab_matches_come_before_the_default_split(tmp_path: Any) -> None:
    spec = next(p for p in example_specs() if p.parent.name == "canary-ab")
    vs = rendered(str(spec))[("VirtualService", "storefront")]
    http = vs["spec"]["http"]
    assert [h.get("name") for h in http] == ["beta-testers", "new-checkout", "canary"]
    assert http[0]["match"] == [{"headers": {"x-beta-tester": {"exact": "true"}}}]
    assert http[0]["route"] == [
        {"destination": {"host": "storefront", "subset": "v2"}, "weight": 100}
    ]
    assert http[1]["match"] == [{"uri": {"prefix": "/checkout/v2"}}]
    assert http[2]["route"][1]["weight"] == 20
    assert all(
        h["retries"] == {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx,connect-failure"}
        for h in http
    )


def test_service_accounts_become_spiffe_principals_in_their_own_source(tmp_path: Any) -> None:
    spec = next(p for p in example_specs() if p.parent.name == "canary-ab")
    policy = rendered(str(spec))[("AuthorizationPolicy", "storefront-allow")]
    # Separate rules (and sources) are ORed by Istio; one source with both
    # fields would require both at once.
    assert policy["spec"]["rules"][1] == {
        "from": [{"source": {"principals": ["cluster.local/ns/shop/sa/checkout-worker"]}}]
    }


def test_a_named_target_port_in_an_allow_rule_is_loud(tmp_path: Any) -> None:
    data = quickstart()
    data["spec"]["services"][0]["ports"][0]["targetPort"] = "http-web"
    spec = write_spec(tmp_path, data)
    with pytest.raises(SpecError) as info:
        render(load_mesh(str(spec)), RenderOptions())
    (problem,) = info.value.problems
    assert problem.path == "spec.services[0].allow[0].ports"
    assert "--allow-lossy" in problem.message
    objects, report = render(load_mesh(str(spec)), RenderOptions.of(allow_lossy=True))
    policy = next(o for o in objects if o["kind"] == "AuthorizationPolicy")
    assert "to" not in policy["spec"]["rules"][0]
    assert [w.path for w in report.warnings] == ["spec.services[0].allow[0].ports"]


def test_mtls_permissive_is_rendered_as_asked(tmp_path: Any) -> None:
    data = quickstart()
    data["spec"]["mtls"] = "PERMISSIVE"
    objects = rendered(str(write_spec(tmp_path, data)))
    assert objects[("PeerAuthentication", "default")]["spec"] == {"mtls": {"mode": "PERMISSIVE"}}


def test_blue_green_keeps_the_idle_version_at_weight_zero() -> None:
    spec = next(p for p in example_specs() if p.parent.name == "blue-green")
    route = rendered(str(spec))[("VirtualService", "invoices")]["spec"]["http"][0]["route"]
    assert [(r["destination"]["subset"], r["weight"]) for r in route] == [
        ("blue", 100),
        ("green", 0),
    ]


def test_a_service_without_routes_gets_no_virtual_service_unless_it_has_resilience(
    tmp_path: Any,
) -> None:
    spec = next(p for p in example_specs() if p.parent.name == "multi-namespace")
    objects = rendered(str(spec))
    assert ("VirtualService", "payments") not in objects
    assert objects[("VirtualService", "web")]["spec"]["http"] == [
        {"route": [{"destination": {"host": "web"}}], "timeout": "15s"}
    ]
