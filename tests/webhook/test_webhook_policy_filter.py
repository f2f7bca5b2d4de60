"""A webhook evaluating only some policies (--policy) says so on every answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from meshc.compiler.schema import POLICY_IDS
from meshc.policies.violations import Violation, format_message
from meshc.webhook.app import create_app
from meshc.webhook.serve import preflight
from meshc.webhook.settings import SETTINGS_ENV, Settings
from meshc.webhook.state import State, filter_notices, load_state
from support.api_server import review, workload
from support.helm_chart import CHART, objects, render
from support.paths import EXAMPLES

GOOD = json.dumps(review(workload("Pod"))).encode()
SPEC = EXAMPLES / "quickstart" / "mesh.yaml"


class StandIn:
    def __init__(self, answer: list[Violation]):
        self.answer = answer

    def evaluate(self, review: Any) -> list[Violation]:
        return list(self.answer)


def validate(state: State) -> dict[str, Any]:
    r = (
        create_app(state)
        .test_client()
        .post("/validate", data=GOOD, content_type="application/json")
    )
    assert r.status_code == 200
    return r.get_json()["response"]  # type: ignore[no-any-return]


DENIED = Violation(
    policy="injection-required",
    kind="Pod",
    namespace="mesh-demo",
    name="web",
    path="spec.hostNetwork",
    problem="the pod shares the node's network: true",
    fix="remove hostNetwork",
    mode="enforce",
)


def test_the_notice_names_the_policies_and_only_a_filter_has_one() -> None:
    assert filter_notices({"provider": "istio"}) == ()
    (notice,) = filter_notices({"only": ["injection-required"]})
    assert notice == (
        "[meshc:policy-filter] this webhook evaluates only injection-required "
        "(meshc webhook serve --policy); the spec's other policies are not enforced"
    )


def test_every_answer_of_a_filtered_webhook_carries_the_notice() -> None:
    notices = filter_notices({"only": ["injection-required"]})
    allowed = validate(State(engine=StandIn([]), notices=notices))
    assert allowed["allowed"] is True and allowed["warnings"] == list(notices)
    denied = validate(State(engine=StandIn([DENIED]), notices=notices))
    assert denied["allowed"] is False
    assert denied["status"]["message"] == format_message(DENIED)
    assert denied["warnings"] == list(notices)


def test_an_unfiltered_webhook_answers_a_bare_allow() -> None:
    answer = validate(State(engine=StandIn([])))
    assert answer == {"uid": json.loads(GOOD)["request"]["uid"], "allowed": True}


def test_the_workers_load_the_filter_from_the_settings() -> None:
    settings = Settings(spec=str(SPEC), only_policies=("mtls-strict",))
    assert Settings.from_env({SETTINGS_ENV: settings.to_env()}) == settings
    state = load_state(settings)
    assert state.notices == filter_notices({"only": ["mtls-strict"]})
    assert load_state(Settings(spec=str(SPEC))).notices == ()


def test_serve_refuses_an_unknown_policy_before_starting(tmp_path: Path) -> None:
    settings = Settings(spec=str(SPEC), only_policies=("mtls",))
    problem = preflight(settings, tmp_path / "tls.crt", tmp_path / "tls.key", SPEC.read_bytes())
    assert problem is not None and problem.startswith("--policy: unknown policy 'mtls'")


def test_the_chart_passes_diagnostics_only_policies_as_policy_flags() -> None:
    def webhook_args(values: dict[str, Any] | None) -> list[str]:
        (deployment,) = [o for o in objects(render(values)) if o["kind"] == "Deployment"]
        (container,) = [
            c
            for c in deployment["spec"]["template"]["spec"]["containers"]
            if c["name"] == "webhook"
        ]
        return list(container["args"])

    assert not any(a.startswith("--policy=") for a in webhook_args(None))
    args = webhook_args({"diagnostics": {"onlyPolicies": ["injection-required"]}})
    assert [a for a in args if a.startswith("--policy=")] == ["--policy=injection-required"]


def test_the_charts_schema_knows_exactly_the_policy_ids() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    items = schema["properties"]["diagnostics"]["properties"]["onlyPolicies"]["items"]
    assert items["enum"] == list(POLICY_IDS)
