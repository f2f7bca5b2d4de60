"""Istio's traffic-management tasks, written as Mesh specs: the Istio rendering is the
upstream task's YAML, and the Linkerd rendering reports, field by field, what it cannot do.

The upstream manifests are copied under tests/compiler/upstream/bookinfo with their
provenance (istio/istio samples and the istio.io task snippets); the specs that write each
task are tests/compiler/bookinfo/<task>.yaml. "Semantically" means after the spellings
Istio treats as the same thing are made one: a short host is the service of the object's
namespace, a single destination without a weight takes every request, the deprecated
integer ``percent`` of a fault and ``mirrorPercent`` are percentages, and the API version
(v1alpha3, v1) is the same object.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, render
from support.schemas import assert_valid

HERE = Path(__file__).parent
UPSTREAM = HERE / "upstream" / "bookinfo"
SPECS = HERE / "bookinfo"
NETWORKING = ("DestinationRule", "VirtualService", "Gateway")
Obj = dict[str, Any]

# task -> (spec, upstream files applied in order, the namespace they are applied in)
TASKS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "request routing": (
        "request-routing",
        ("destination-rule-all", "virtual-service-all-v1", "virtual-service-reviews-test-v2"),
        "bookinfo",
    ),
    "traffic shifting": (
        "traffic-shifting",
        ("destination-rule-all", "virtual-service-all-v1", "virtual-service-reviews-50-v3"),
        "bookinfo",
    ),
    "request timeouts": (
        "request-timeouts",
        ("destination-rule-all", "virtual-service-all-v1", "request-timeouts"),
        "bookinfo",
    ),
    "fault injection (delay)": (
        "fault-injection-delay",
        (
            "destination-rule-all",
            "virtual-service-all-v1",
            "virtual-service-reviews-test-v2",
            "virtual-service-ratings-test-delay",
        ),
        "bookinfo",
    ),
    "fault injection (abort)": (
        "fault-injection-abort",
        (
            "destination-rule-all",
            "virtual-service-all-v1",
            "virtual-service-reviews-test-v2",
            "virtual-service-ratings-test-abort",
        ),
        "bookinfo",
    ),
    "circuit breaking": ("circuit-breaking", ("circuit-breaking",), "httpbin"),
    "mirroring": ("mirroring", ("mirroring",), "httpbin"),
    "ingress": ("ingress", ("destination-rule-all", "bookinfo-gateway"), "bookinfo"),
}
# meshc names the VirtualService bound to a Gateway after the ingress, as it names the
# Gateway; bookinfo-gateway.yaml names it bookinfo.
RENAMED = {("VirtualService", "bookinfo"): ("VirtualService", "bookinfo-gateway")}

# What the Linkerd rendering (gateway-api) reports, field by field; every other field of
# the task's spec renders as it does on Istio.
LINKERD_REPORTS: dict[str, set[str]] = {
    "request routing": set(),
    "traffic shifting": set(),
    "request timeouts": {"spec.services[2].routes[0].fault.delay"},
    "fault injection (delay)": {"spec.services[2].routes[0].fault.delay"},
    # A warning: the abort is rendered, as a weighted backend the spec names.
    "fault injection (abort)": {"spec.services[2].routes[0].fault.abort"},
    "circuit breaking": {
        "spec.services[0].connectionPool.maxConnections",
        "spec.services[0].connectionPool.http1MaxPendingRequests",
        "spec.services[0].connectionPool.maxRequestsPerConnection",
        "spec.services[0].outlierDetection.interval",
        "spec.services[0].outlierDetection.baseEjectionTime",
        "spec.services[0].outlierDetection.maxEjectionPercent",
    },
    "mirroring": {"spec.services[0].routes[0].mirror"},
    "ingress": set(),
}


def upstream_documents(name: str) -> list[Obj]:
    text = (UPSTREAM / f"{name}.yaml").read_text(encoding="utf-8")
    return [d for d in yaml.safe_load_all(text) if d]


def upstream_state(files: tuple[str, ...]) -> dict[tuple[str, str], Obj]:
    """The Istio networking objects after applying ``files`` in order (a later object
    replaces an earlier one of the same kind and name, as kubectl apply does)."""
    state: dict[tuple[str, str], Obj] = {}
    for name in files:
        for doc in upstream_documents(name):
            if doc["kind"] in NETWORKING:
                key = (doc["kind"], doc["metadata"]["name"])
                state[RENAMED.get(key, key)] = doc
    return state


def _fqdn(host: str, namespace: str) -> str:
    return host if "." in host or host == "*" else f"{host}.{namespace}.svc.cluster.local"


def _percent(holder: dict[str, Any], old: str, new: str) -> None:
    if old in holder:
        holder[new] = {"value": holder.pop(old)}


def semantic(obj: Obj, namespace: str) -> Obj:
    """The object's group, kind, name and spec, in one spelling of each meaning."""
    spec = copy.deepcopy(obj["spec"])
    if obj["kind"] == "DestinationRule":
        spec["host"] = _fqdn(spec["host"], namespace)
    for http in spec.get("http", []):
        routes = http.get("route", [])
        if len(routes) == 1:
            routes[0].setdefault("weight", 100)
        for fault in http.get("fault", {}).values():
            _percent(fault, "percent", "percentage")
        _percent(http, "mirrorPercent", "mirrorPercentage")
    group = obj["apiVersion"].rpartition("/")[0]
    return {"group": group, "kind": obj["kind"], "name": obj["metadata"]["name"], "spec": spec}


def rendered(task: str, target: str = "istio", **options: Any) -> tuple[list[Obj], Any]:
    spec, _, _ = TASKS[task]
    mesh = load_mesh(str(SPECS / f"{spec}.yaml"))
    return render(mesh, RenderOptions.of(**options), target)


@pytest.mark.parametrize("task", TASKS)
def test_the_istio_rendering_is_the_upstream_tasks_yaml(task: str) -> None:
    _, files, namespace = TASKS[task]
    objects, _ = rendered(task)
    ours = {
        (o["kind"], o["metadata"]["name"]): semantic(o, namespace)
        for o in objects
        if o["kind"] in NETWORKING
    }
    theirs = {
        key: {**semantic(o, namespace), "name": key[1]} for key, o in upstream_state(files).items()
    }

    assert sorted(ours) == sorted(theirs)
    for key, obj in theirs.items():
        assert ours[key] == obj, key


@pytest.mark.parametrize("task", TASKS)
def test_the_services_are_upstreams(task: str) -> None:
    objects, _ = rendered(task)
    ours = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "Service"}
    sources = (
        ("mirroring",)
        if task == "mirroring"
        else ("httpbin",)
        if task == "circuit breaking"
        else ("bookinfo",)
    )
    theirs = [d for name in sources for d in upstream_documents(name) if d["kind"] == "Service"]
    assert theirs
    for service in theirs:
        spec = ours[service["metadata"]["name"]]
        assert spec["selector"] == service["spec"]["selector"]
        assert [(p["name"], p["port"], p["targetPort"]) for p in spec["ports"]] == [
            (p["name"], p["port"], p.get("targetPort", p["port"])) for p in service["spec"]["ports"]
        ]


@pytest.mark.parametrize("task", TASKS)
def test_the_linkerd_rendering_reports_what_differs_field_by_field(task: str) -> None:
    objects, report = rendered(task, "linkerd", allow_lossy=True)
    assert {p.path for p in report.problems} == LINKERD_REPORTS[task]
    assert_valid(objects, gateway_channel="linkerd")


def test_the_abort_goes_to_the_service_the_spec_names_on_linkerd() -> None:
    objects, report = rendered("fault injection (abort)", "linkerd")
    route = next(
        o for o in objects if o["kind"] == "HTTPRoute" and o["metadata"]["name"] == "ratings-http"
    )
    jason = route["spec"]["rules"][0]
    assert [(b["name"], b["weight"]) for b in jason["backendRefs"]] == [
        ("ratings-v1", 0),
        ("ratings-abort", 1),
    ]
    (warning,) = [p for p in report.warnings if p.path.endswith("fault.abort")]
    assert "answer with the error itself" in warning.message


@pytest.mark.parametrize("task", TASKS)
def test_every_rendered_object_validates_against_the_upstream_crds(task: str) -> None:
    objects, _ = rendered(task)
    assert_valid(objects)
