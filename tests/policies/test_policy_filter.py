"""`--policy`: evaluating only some policies, the same way in every engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from meshc.cli import main
from meshc.compiler.schema import POLICY_IDS
from meshc.policies.admission import admission_review
from meshc.policies.data import only_policies
from meshc.policies.engine import ENGINES, create_engine
from meshc.policies.manifests import load_manifests
from support.policy_samples import SAMPLES, SPECS, data_for

IN_PROCESS = [name for name, info in ENGINES.items() if info.in_process]
ISTIO = str(SPECS / "istio.yaml")


def denied_samples(policy: str) -> list[Path]:
    return sorted((SAMPLES / policy / "denied").glob("istio-*.yaml"))


def reviews(policy: str) -> list[dict[str, Any]]:
    manifests = load_manifests([str(p) for p in denied_samples(policy)])
    return [m.obj if m.is_review else admission_review(m.obj) for m in manifests]


class TestOnlyPolicies:
    def test_no_filter_and_every_policy_leave_the_data_as_it_is(self) -> None:
        data = {"provider": "istio"}
        assert only_policies(data, []) is data
        assert only_policies(data, reversed(POLICY_IDS)) is data

    def test_a_subset_is_named_once_and_sorted(self) -> None:
        chosen = only_policies(
            {"provider": "istio"}, ["mtls-strict", "injection-required", "mtls-strict"]
        )
        assert chosen == {"provider": "istio", "only": ["injection-required", "mtls-strict"]}

    def test_an_unknown_id_is_refused_with_the_known_ones(self) -> None:
        with pytest.raises(
            ValueError, match="unknown policy 'injection'; expected one of injection-required"
        ):
            only_policies({}, ["injection"])


@pytest.mark.parametrize("engine_name", IN_PROCESS)
@pytest.mark.parametrize("policy", ["injection-required", "mtls-strict", "allowed-namespaces"])
def test_a_filtered_engine_finds_exactly_the_selected_policys_violations(
    engine_name: str, policy: str
) -> None:
    data = data_for("istio")
    everything = create_engine(engine_name, data)
    alone = create_engine(engine_name, only_policies(data, [policy]))
    others = create_engine(engine_name, only_policies(data, [p for p in POLICY_IDS if p != policy]))
    for review in reviews(policy):
        found = everything.evaluate(review)
        assert any(v.policy == policy for v in found)
        assert alone.evaluate(review) == [v for v in found if v.policy == policy]
        assert others.evaluate(review) == [v for v in found if v.policy != policy]


def test_check_policy_reports_only_that_policy(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(p) for p in denied_samples("mtls-strict") + denied_samples("injection-required")]
    assert (
        main(["check", "--spec", ISTIO, "--format", "json", "--policy", "mtls-strict", *paths]) == 1
    )
    policies = {v["policy"] for v in json.loads(capsys.readouterr().out)}
    assert policies == {"mtls-strict"}
    injection = [str(p) for p in denied_samples("injection-required")]
    assert main(["check", "--spec", ISTIO, "--policy", "mtls-strict", *injection]) == 0


def test_check_refuses_an_unknown_policy(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(p) for p in denied_samples("mtls-strict")]
    assert main(["check", "--spec", ISTIO, "--policy", "mtls", *paths]) == 2
    assert "unknown policy 'mtls'" in capsys.readouterr().err
