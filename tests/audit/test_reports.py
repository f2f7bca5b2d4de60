"""Policy reports built from audit results: their shape, against the upstream CRDs, without a cluster."""

from __future__ import annotations

import pytest

from meshc.audit.reports import (
    MAX_RESULTS,
    OPENREPORTS,
    WGPOLICY,
    Audited,
    ReportAPI,
    build_report,
    rule_of,
)
from meshc.policies.violations import Violation
from support.schemas import validate


def violation(name: str = "web", mode: str = "enforce", path: str = "spec.containers") -> Violation:
    return Violation(
        policy="injection-required", kind="Pod", namespace="shop", name=name, path=path,
        problem="runs without the mesh's proxy", fix="let the injector add it",
        source="mesh.yaml:spec.namespaces", mode=mode,  # type: ignore[arg-type]
    )  # fmt: skip


def pod(name: str, *violations: Violation) -> Audited:
    return Audited("v1", "Pod", "shop", name, f"uid-{name}", violations)


@pytest.mark.parametrize("api", [OPENREPORTS, WGPOLICY], ids=lambda a: a.name)
def test_a_namespace_report_validates_against_its_crd(api: ReportAPI) -> None:
    report = build_report(api, "shop", "shop", [pod("a", violation("a")), pod("b")], now=100)
    assert validate(report) == []
    assert report["kind"] == api.kind
    assert report["summary"]["fail"] == 1
    (result,) = report["results"]
    assert result["resources"] == [
        {"apiVersion": "v1", "kind": "Pod", "name": "a", "namespace": "shop", "uid": "uid-a"}
    ]
    assert result["properties"]["fix"] == "let the injector add it"
    assert result["timestamp"] == {"seconds": 100, "nanos": 0}


@pytest.mark.parametrize("api", [OPENREPORTS, WGPOLICY], ids=lambda a: a.name)
def test_a_cluster_report_validates_against_its_crd(api: ReportAPI) -> None:
    ns = Audited("v1", "Namespace", "", "shop", "uid", (violation("shop"),))
    report = build_report(api, "shop", "", [ns], now=100)
    assert validate(report) == []
    assert report["kind"] == api.cluster_kind
    assert "namespace" not in report["metadata"]


def test_modes_map_to_result_and_severity() -> None:
    objs = [pod("a", violation("a", "enforce")), pod("b", violation("b", "warn")),
            pod("c", violation("c", "audit"))]  # fmt: skip
    report = build_report(OPENREPORTS, "m", "shop", objs, now=1)
    got = {r["resources"][0]["name"]: (r["result"], r["severity"]) for r in report["results"]}
    assert got == {"a": ("fail", "high"), "b": ("warn", "medium"), "c": ("warn", "low")}
    assert report["summary"] == {"pass": 0, "fail": 1, "warn": 2, "error": 0, "skip": 0}


def test_a_result_already_reported_keeps_the_date_it_was_first_found() -> None:
    first = build_report(OPENREPORTS, "m", "shop", [pod("a", violation("a"))], now=100)
    objs = [pod("a", violation("a")), pod("b", violation("b"))]
    second = build_report(OPENREPORTS, "m", "shop", objs, previous=first, now=200)
    stamps = {r["resources"][0]["name"]: r["timestamp"]["seconds"] for r in second["results"]}
    assert stamps == {"a": 100, "b": 200}


def test_the_rule_is_the_checked_field_without_list_positions() -> None:
    path = "spec.template.spec.containers[2].securityContext.capabilities.add[0]"
    assert rule_of(violation(path=path)) == (
        "spec.template.spec.containers[].securityContext.capabilities.add[]"
    )


def test_a_report_past_the_size_a_stored_object_allows_is_cut_and_says_so() -> None:
    objs = [pod(f"p{i:05d}", violation(f"p{i:05d}")) for i in range(MAX_RESULTS + 5)]
    report = build_report(OPENREPORTS, "m", "shop", objs, now=1)
    assert len(report["results"]) == MAX_RESULTS
    assert report["configuration"] == {"limits": {"maxResults": MAX_RESULTS}}
    assert report["summary"]["fail"] == MAX_RESULTS + 5
    assert validate(report) == []
