"""spec.overrides: per-object patches applied after rendering, validated like everything
else, reported as overridden, never silently dropped."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from meshc.cli import main
from meshc.compiler.errors import SpecError
from meshc.compiler.loader import load_mesh
from meshc.compiler.overrides import OVERRIDDEN_ANNOTATION, merge_patch
from meshc.compiler.targets import RenderOptions, render
from meshc.policies.data import policy_data
from support.examples import TARGETS
from support.schemas import validate
from support.specs import quickstart, write_spec

MIRROR = {
    "target": {"kind": "VirtualService", "namespace": "mesh-demo", "name": "web"},
    "patch": [
        {"op": "add", "path": "/spec/http/0/mirror", "value": {"host": "web-shadow"}},
        {"op": "add", "path": "/spec/http/0/mirrorPercentage", "value": {"value": 5.0}},
    ],
    "reason": "shadow traffic: not in the spec yet",
}
LEAST_REQUEST = {
    "target": {"kind": "DestinationRule", "namespace": "mesh-demo", "name": "web"},
    "merge": {"spec": {"trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"}}}},
}


def spec(*overrides: dict[str, Any]) -> str:
    data = quickstart()
    data["spec"]["overrides"] = list(overrides)
    return yaml.safe_dump(data, sort_keys=False)


def rendered(text: str, provider: str | None = None, **options: Any) -> tuple[dict[str, Any], Any]:
    objects, report = render(load_mesh("mesh.yaml", text=text), RenderOptions(**options), provider)
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}, report


def test_a_json_patch_and_a_merge_patch_are_applied_and_the_objects_say_so() -> None:
    found, report = rendered(spec(MIRROR, LEAST_REQUEST))
    vs, dr = found["VirtualService/web"], found["DestinationRule/web"]
    assert vs["spec"]["http"][0]["mirror"] == {"host": "web-shadow"}
    assert vs["spec"]["http"][0]["mirrorPercentage"] == {"value": 5.0}
    assert dr["spec"]["trafficPolicy"]["loadBalancer"] == {"simple": "LEAST_REQUEST"}
    # What the spec rendered is kept beside the patch.
    assert dr["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] == 5
    assert vs["metadata"]["annotations"][OVERRIDDEN_ANNOTATION] == "mesh.yaml#spec.overrides[0]"
    assert dr["metadata"]["annotations"][OVERRIDDEN_ANNOTATION] == "mesh.yaml#spec.overrides[1]"
    assert [(p.path, p.message, p.level) for p in report.problems] == [
        (
            "spec.overrides[0]",
            "overridden: VirtualService mesh-demo/web (2 JSON patch operations)",
            "warning",
        ),
        (
            "spec.overrides[1]",
            "overridden: DestinationRule mesh-demo/web (a JSON merge patch)",
            "warning",
        ),
    ]


def test_overridden_objects_are_validated_against_the_upstream_crds() -> None:
    found, _ = rendered(spec(MIRROR, LEAST_REQUEST))
    for obj in found.values():
        assert validate(obj) == [], obj["kind"]
    # ... which is what catches a patch the CRD refuses.
    bad = {
        **LEAST_REQUEST,
        "merge": {"spec": {"trafficPolicy": {"loadBalancer": {"simple": "FASTEST"}}}},
    }
    found, _ = rendered(spec(bad))
    assert validate(found["DestinationRule/web"]) != []


def test_render_prints_the_overridden_objects(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_spec(tmp_path, spec(MIRROR))
    assert main(["render", "--spec", str(path)]) == 0
    captured = capsys.readouterr()
    assert "mirrorPercentage" in captured.out
    assert (
        f"{path}:" in captured.err
        and "warning: spec.overrides[0]: overridden: VirtualService "
        "mesh-demo/web (2 JSON patch operations)"
        in captured.err
    )


@pytest.mark.parametrize(
    ("override", "path", "message"),
    [
        (
            {
                **MIRROR,
                "target": {"kind": "VirtualService", "namespace": "mesh-demo", "name": "webb"},
            },
            "spec.overrides[0].target",
            (
                "targets VirtualService mesh-demo/webb, which the istio render does not contain (did you mean "
                "VirtualService mesh-demo/web"
            ),
        ),
        (
            {**MIRROR, "patch": [{"op": "replace", "path": "/spec/tcp/0", "value": {}}]},
            "spec.overrides[0].patch",
            "does not apply to VirtualService mesh-demo/web: ",
        ),
        (
            {**MIRROR, "patch": [{"op": "test", "path": "/spec/hosts/0", "value": "api"}]},
            "spec.overrides[0].patch",
            "does not apply to VirtualService mesh-demo/web: ",
        ),
        (
            {**MIRROR, "patch": [{"op": "replace", "path": "/metadata/name", "value": "web2"}]},
            "spec.overrides[0]",
            "changes what identifies VirtualService mesh-demo/web",
        ),
    ],
)
def test_a_patch_that_targets_nothing_or_does_not_apply_is_a_clear_error(
    override: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(SpecError) as info:
        rendered(spec(override))
    (problem,) = info.value.problems
    assert problem.path == path and problem.message.startswith(message), problem.format()


def test_an_override_gives_exactly_one_patch() -> None:
    with pytest.raises(SpecError, match="give patch .* or merge .*, exactly one"):
        load_mesh("mesh.yaml", text=spec({"target": MIRROR["target"]}))
    with pytest.raises(SpecError, match="exactly one"):
        load_mesh("mesh.yaml", text=spec({**MIRROR, **LEAST_REQUEST, "target": MIRROR["target"]}))


@pytest.mark.parametrize(
    "target", [t for t in TARGETS if t.provider == "linkerd"], ids=lambda t: t.id
)
def test_an_override_of_another_providers_render_is_not_applied_and_says_so(target: Any) -> None:
    found, report = rendered(
        spec(MIRROR), target.provider, choices={"linkerd-routing": target.routing}, allow_lossy=True
    )
    assert not any(
        OVERRIDDEN_ANNOTATION in (o["metadata"].get("annotations") or {}) for o in found.values()
    )
    assert (
        "spec.overrides[0].provider",
        "not applied: it patches the istio render, and this is linkerd's",
    ) in [(p.path, p.message) for p in report.problems]


def test_an_override_of_a_security_object_is_what_managed_objects_admits() -> None:
    allow = {
        "target": {"kind": "AuthorizationPolicy", "namespace": "mesh-demo", "name": "web-allow"},
        "patch": [
            {
                "op": "add",
                "path": "/spec/rules/0/from/-",
                "value": {"source": {"namespaces": ["istio-system"]}},
            }
        ],
    }
    data = policy_data(load_mesh("mesh.yaml", text=spec(allow)))
    protected = data["protected"]["security.istio.io/AuthorizationPolicy/mesh-demo/web-allow"]
    assert protected["spec"]["rules"][0]["from"][-1] == {"source": {"namespaces": ["istio-system"]}}


def test_merge_patch_follows_rfc_7386() -> None:
    # The RFC's own example (section 3).
    target = {"a": "b", "c": {"d": "e", "f": "g"}}
    patch = {"a": "z", "c": {"f": None}}
    assert merge_patch(target, patch) == {"a": "z", "c": {"d": "e"}}
    assert merge_patch({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}
    assert target == {"a": "b", "c": {"d": "e", "f": "g"}}
