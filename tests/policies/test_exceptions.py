"""spec.admission.exceptions: which policy, which objects, why, until when — applied to every
policy's findings in one place (meshc.lib.exceptions), by every engine, with the expiry
checked at the time of each evaluation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from policy_reviews import PROXY_IMAGE, istio_proxy, pod, review

from meshc.cli import main
from meshc.compiler.errors import SpecError
from meshc.compiler.exceptions import expiry_warnings
from meshc.compiler.loader import load_mesh
from meshc.policies.data import policy_data
from meshc.policies.engine import EngineFrame, PolicyEngine, create_engine, decide
from meshc.policies.opa_server import write_bundle
from meshc.policies.violations import Violation, format_message
from support.paths import require_tool
from support.policy_samples import SPECS
from support.real_opa import opa_server

NIGHTLY = {
    "name": "nightly-reports",
    "policies": ["injection-required"],
    "namespaces": ["mesh-demo"],
    "kinds": ["Job", "Pod"],
    "selector": {"app": "nightly"},
    "reason": "a batch job that exits: a sidecar would keep its pods running",
}
METRICS_PORT = {
    "name": "scraper-port",
    "policies": ["mtls-strict"],
    "namespaces": ["mesh-demo"],
    "kinds": ["PeerAuthentication"],
    "names": ["web-metrics"],
    "paths": ['spec.portLevelMtls["9090"]'],
    "reason": "the metrics scraper runs outside the mesh",
}


def spec_with(*exceptions: dict[str, Any]) -> Any:
    data = yaml.safe_load((SPECS / "istio.yaml").read_text())
    data["spec"]["admission"]["exceptions"] = list(exceptions)
    return load_mesh("mesh.yaml", text=yaml.safe_dump(data, sort_keys=False))


def job(labels: dict[str, str], name: str = "nightly") -> dict[str, Any]:
    template = pod(labels={**labels, "sidecar.istio.io/inject": "false"})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "mesh-demo"},
        "spec": {"template": {"metadata": template["metadata"], "spec": template["spec"]}},
    }


def admitted(obj: dict[str, Any]) -> dict[str, Any]:
    """The review of ``obj`` as the API server sends it, after the mesh's injector."""
    r = review(obj)
    del r["request"]["meshc.io/offline"]
    return r


def peer_authentication(ports: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "web-metrics", "namespace": "mesh-demo"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "mtls": {"mode": "STRICT"},
            "portLevelMtls": {p: {"mode": m} for p, m in ports.items()},
        },
    }


@pytest.fixture(scope="module", params=["embedded", "wasm"])
def engine_kind(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


def engine(kind: str, *exceptions: dict[str, Any]) -> PolicyEngine:
    return create_engine(kind, policy_data(spec_with(*exceptions)))


# --- a Job that must run without a proxy ------------------------------------------------


def test_a_job_and_its_pods_run_without_a_proxy_admitted_with_the_exception_named(
    engine_kind: str,
) -> None:
    e = engine(engine_kind, NIGHTLY)
    pod_without_proxy = pod(
        labels={"app": "nightly", "job-name": "nightly"},
        containers=[{"name": "report", "image": "reports:1"}],
    )
    for r in (review(job({"app": "nightly"})), admitted(pod_without_proxy)):
        found = e.evaluate(r)
        assert found, r["request"]["kind"]
        decision = decide(found)
        assert decision.allowed and not decision.warnings
        assert decision.audits == tuple(found)
        assert {v.exception for v in found} == {
            (
                "exception nightly-reports (mesh.yaml#spec.admission.exceptions[0]): a batch job "
                "that exits: a sidecar would keep its pods running"
            )
        }
        assert all(format_message(v).endswith(f"[excepted by {v.exception}]") for v in found)


def test_the_exception_covers_only_the_objects_it_selects(engine_kind: str) -> None:
    e = engine(engine_kind, NIGHTLY)
    other_job = e.evaluate(review(job({"app": "web"}, name="web-batch")))
    assert not decide(other_job).allowed  # another selector
    deployment = job({"app": "nightly"})
    deployment.update(apiVersion="apps/v1", kind="Deployment")
    assert not decide(e.evaluate(review(deployment))).allowed  # another kind
    elsewhere = job({"app": "nightly"})
    elsewhere["metadata"]["namespace"] = "mesh-canary"
    assert not decide(e.evaluate(review(elsewhere))).allowed  # another namespace
    # Without paths it lifts every finding of its policies on those objects (a NET_ADMIN
    # container too: give paths to lift fewer), and nothing of another policy.
    privileged = job({"app": "nightly"})
    privileged["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {
        "capabilities": {"add": ["NET_ADMIN"]}
    }
    assert decide(e.evaluate(review(privileged))).allowed
    assert not decide(
        engine(engine_kind, {**NIGHTLY, "policies": ["mtls-strict"]}).evaluate(
            review(job({"app": "nightly"}))
        )
    ).allowed


def test_findings_named_by_path_are_lifted_and_the_others_stay(engine_kind: str) -> None:
    # One port PERMISSIVE for a metrics scraper outside the mesh.
    e = engine(engine_kind, METRICS_PORT)
    lifted = e.evaluate(review(peer_authentication({"9090": "PERMISSIVE"})))
    assert [(v.path, v.mode) for v in lifted] == [('spec.portLevelMtls["9090"].mode', "audit")]
    both = e.evaluate(review(peer_authentication({"9090": "PERMISSIVE", "8080": "PERMISSIVE"})))
    assert [(v.path, v.mode) for v in both] == [
        ('spec.portLevelMtls["8080"].mode', "enforce"),
        ('spec.portLevelMtls["9090"].mode', "audit"),
    ]


def test_a_pod_path_covers_the_workloads_template_field_and_a_name_prefix_its_pods(
    engine_kind: str,
) -> None:
    exception = {
        "name": "legacy",
        "policies": ["injection-required"],
        "namespaces": ["mesh-demo"],
        "names": ["legacy", "legacy-*"],
        "paths": ['metadata.labels["sidecar.istio.io/inject"]', "spec.containers"],
        "reason": "legacy",
    }
    e = engine(engine_kind, exception)
    deployment = job({"app": "legacy"}, name="legacy")
    deployment.update(apiVersion="apps/v1", kind="Deployment")
    assert decide(e.evaluate(review(deployment))).allowed
    its_pod = pod(labels={"app": "legacy"})
    its_pod["metadata"]["name"] = "legacy-7d9f8-x2x4q"
    assert decide(e.evaluate(admitted(its_pod))).allowed
    other = dict(its_pod, metadata={**its_pod["metadata"], "name": "web-1"})
    assert not decide(e.evaluate(admitted(other))).allowed


# --- until when ----------------------------------------------------------------------------


def test_an_expired_exception_stops_applying_without_a_reload(engine_kind: str) -> None:
    soon = datetime.now(UTC) + timedelta(days=3)
    e = engine(engine_kind, {**NIGHTLY, "expires": soon.isoformat()})
    r = review(job({"app": "nightly"}))
    assert decide(e.evaluate(r)).allowed
    assert isinstance(e, EngineFrame)
    e.clock = lambda: soon.timestamp() + 1  # type: ignore[method-assign]
    found = e.evaluate(r)
    assert not decide(found).allowed and {v.exception for v in found} == {""}


def test_an_exception_that_expired_before_the_data_was_built_does_not_apply(
    engine_kind: str,
) -> None:
    e = engine(engine_kind, {**NIGHTLY, "expires": "2020-01-01"})
    assert not decide(e.evaluate(review(job({"app": "nightly"})))).allowed


def test_validate_warns_before_an_exception_expires_and_after(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    soon = (datetime.now(UTC) + timedelta(days=5)).date().isoformat()
    data = yaml.safe_load((SPECS / "istio.yaml").read_text())
    data["spec"]["admission"]["exceptions"] = [
        {**NIGHTLY, "expires": soon},
        {**METRICS_PORT, "expires": "2020-01-01"},
        {**NIGHTLY, "name": "later", "expires": "2099-01-01"},
    ]
    spec = tmp_path / "mesh.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["validate", "--spec", str(spec)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert (
        "warning: spec.admission.exceptions[0].expires: exception 'nightly-reports' expires "
        f"on {soon} (in 4 days): then its findings are judged again (injection-required in "
        "mesh-demo)"
    ) in err[0]
    assert err[1].endswith(
        "warning: spec.admission.exceptions[1].expires: exception "
        "'scraper-port' expired on 2020-01-01 and no longer applies: its "
        "findings are judged again; remove it, or extend expires"
    )


def test_expiry_is_a_date_or_an_rfc3339_time() -> None:
    mesh = spec_with({**NIGHTLY, "expires": "2030-05-01T12:30:00+02:00"})
    assert mesh.admission.exceptions[0].expires == datetime(2030, 5, 1, 10, 30, tzinfo=UTC)
    with pytest.raises(SpecError, match="is not a date"):
        spec_with({**NIGHTLY, "expires": "next tuesday"})
    with pytest.raises(SpecError, match="needs its offset"):
        spec_with({**NIGHTLY, "expires": "2030-05-01T12:30:00"})
    assert expiry_warnings(spec_with(NIGHTLY)) == []


# --- the shape ---------------------------------------------------------------------------


def test_exception_names_are_unique_and_policies_known() -> None:
    with pytest.raises(SpecError) as info:
        spec_with(NIGHTLY, {**NIGHTLY, "policies": ["injection-requird"]})
    messages = [p.format() for p in info.value.problems]
    assert any("duplicate exception 'nightly-reports'" in m for m in messages)
    assert any(
        "'injection-requird' is not one of" in m and "did you mean 'injection-required'" in m
        for m in messages
    )


def test_an_exemption_granting_a_non_capture_annotation_is_refused_and_points_to_exceptions() -> (
    None
):
    # It used to be accepted and do nothing.
    data = yaml.safe_load((SPECS / "istio.yaml").read_text())
    data["spec"]["admission"]["exemptions"][0]["annotations"] = ["sidecar.istio.io/inject"]
    with pytest.raises(SpecError) as info:
        load_mesh("mesh.yaml", text=yaml.safe_dump(data))
    (problem,) = info.value.problems
    assert problem.path == "spec.admission.exemptions[0].annotations[0]"
    assert "is not a traffic-capture annotation of Istio" in problem.message
    assert "add an exception (spec.admission.exceptions)" in problem.message


def test_every_admission_message_says_how_to_except_it_with_the_spec_snippet(
    engine_kind: str, tmp_path: Path
) -> None:
    e = engine(engine_kind)
    (v,) = e.evaluate(review(job({"app": "nightly"})))
    message = format_message(v)
    snippet = message.partition("; or, to admit it, add to spec.admission.exceptions: ")[2]
    assert snippet == (
        "{name: nightly-injection-required, policies: [injection-required], "
        "namespaces: [mesh-demo], kinds: [Job, Pod], names: [nightly, 'nightly-*'], "
        "reason: <why>}"
    )
    # The snippet is a valid exception, and adding it admits the object.
    exception = yaml.safe_load(snippet.replace("<why>", "reviewed"))
    lifted = engine(engine_kind, exception).evaluate(review(job({"app": "nightly"})))
    assert decide(lifted).allowed and lifted[0].exception


def test_notices_and_conflicts_carry_no_snippet() -> None:
    v = Violation("spec-conflict", "Service", "ns", "web", "metadata.name", "collides", "remove it")
    assert (
        format_message(v)
        == "[meshc:spec-conflict] Service ns/web: metadata.name: collides; remove it"
    )


@pytest.mark.tools
def test_an_opa_server_applies_exceptions_as_the_in_process_engines(tmp_path: Path) -> None:
    data = policy_data(spec_with(NIGHTLY, METRICS_PORT))
    reviews = [
        review(job({"app": "nightly"})),
        review(job({"app": "web"}, name="web-batch")),
        review(peer_authentication({"9090": "PERMISSIVE", "8080": "PERMISSIVE"})),
        admitted(pod(labels={"app": "nightly"})),
        admitted(pod(containers=[{"name": "web", "image": "x"}, istio_proxy(PROXY_IMAGE)])),
    ]
    bundle = write_bundle(tmp_path / "bundle", data)
    with opa_server(require_tool("opa"), "--bundle", str(bundle)) as url:
        opa = create_engine("opa", data, opa_url=url)
        for r in reviews:
            expected = create_engine("embedded", data).evaluate(r)
            assert opa.evaluate(r) == expected == create_engine("wasm", data).evaluate(r)
