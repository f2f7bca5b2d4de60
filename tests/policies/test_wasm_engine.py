"""The wasm engine: the policies as OPA compiles them to WebAssembly, judged as OPA judges them.

The shipped module answers every review the embedded engine answers, with the
same violations, and is rebuilt whenever the Rego changes. Other Rego is
compiled with OPA at start-up, or refused with the way out. A module the
engine cannot run, a Rego runtime error and a review too big for the memory
limit are engine errors, and the engine answers the next review as before.

OPA's Wasm runtime differs from OPA on two kinds of input, and the engine
closes both gaps, so it judges them as OPA does:

* a lone UTF-16 surrogate ("\\ud800"): its JSON parser rejects the escape,
  and UTF-8 cannot carry it, so the engine hands it over as U+FFFD, which is
  what OPA reads (rego-cpp keeps the escape: tested against OPA only);
* an integral number past int32 that a message would show: its format_int
  aborts, so ``k8s.show`` shows such numbers as "a number" in every engine.

Any other JSON, strings or not where Kubernetes has strings, gets the same
violations from all three engines.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from policy_reviews import istio_proxy, pod, review

from meshc import providers
from meshc.policies import wasm_bundle, wasm_engine
from meshc.policies.check import evaluate
from meshc.policies.engine import (
    DeadlineExceeded,
    EngineError,
    PolicyEngine,
    create_engine,
    decide,
)
from meshc.policies.json_text import JSONDocument
from meshc.policies.manifests import load_manifests
from meshc.policies.modules import ENTRYPOINT, POLICIES_ENV, policy_modules
from meshc.policies.opa_server import write_bundle
from meshc.policies.wasm_bundle import OPA_ENV, compile_wasm, packaged, sources_digest
from meshc.policies.wasm_engine import WasmEngine
from support.paths import REPO, require_tool
from support.policy_samples import sample_files, spec_for
from support.real_opa import opa_server

sys.path.insert(0, str(REPO / "tests" / "hardening"))
# tests/hardening/corpus.py: the bypasses the webhook denies and the look-alikes it allows.
from corpus import (
    BYPASSES,
    ISTIO_CAPTURE_EXCLUSIONS,
    LINKERD_CAPTURE_EXCLUSIONS,
    LINKERD_NS,
    LOOKALIKES,
    Case,
)

# wasm_bundle's docstring says how to rebuild the shipped module.
REBUILD = ".venv/bin/python -m meshc.policies.wasm_bundle --opa .tools/bin/opa"
BAD_POD = pod(labels={"sidecar.istio.io/inject": "false"}, hostNetwork=True)


@pytest.fixture(scope="module")
def engines(request: pytest.FixtureRequest) -> dict[str, tuple[PolicyEngine, PolicyEngine]]:
    """``{provider: (wasm, embedded)}``, judging with policies/samples/specs/<provider>.yaml."""
    found = {}
    for provider in providers.names():
        data = request.getfixturevalue(f"{provider}_data")
        found[provider] = (create_engine("wasm", data), create_engine("embedded", data))
    return found


# -- the same decisions as the embedded engine ---------------------------------------------


@pytest.mark.parametrize("provider", providers.names())
def test_the_wasm_engine_decides_the_sample_corpus_as_the_embedded_one_does(
    provider: str, engines: dict[str, tuple[PolicyEngine, PolicyEngine]]
) -> None:
    wasm, embedded = engines[provider]
    # Every sample, judged against this provider's mesh, as every operation.
    samples = [str(p) for p in sample_files() if spec_for(p).stem == provider]
    manifests = load_manifests(samples)
    for operation in ("CREATE", "UPDATE", "DELETE"):
        by_wasm = evaluate(wasm, manifests, operation)
        assert by_wasm == evaluate(embedded, manifests, operation), operation
        if operation == "CREATE":
            assert len(by_wasm) >= len([m for m in samples if "/denied/" in m])


@pytest.mark.parametrize("case", BYPASSES + LOOKALIKES, ids=lambda c: c.name)
def test_every_bypass_and_look_alike_gets_the_same_violations_from_both_engines(
    case: Case, engines: dict[str, tuple[PolicyEngine, PolicyEngine]]
) -> None:
    wasm, embedded = engines[case.provider]
    by_wasm = wasm.evaluate(case.review)
    assert by_wasm == embedded.evaluate(case.review)
    assert decide(by_wasm).allowed is (case in LOOKALIKES)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("\U00010000", "\U00010000"),
        ("\U00020000", "\U00020000"),
        ("\U0010ffff", "\U0010ffff"),
        ("\ud840\udc00", "\U00020000"),
    ],
    ids=["U+10000", "U+20000", "U+10FFFF", "U+20000 as two code points, as YAML escapes give it"],
)
def test_a_character_past_the_basic_plane_reaches_the_policies_as_itself(
    name: str, shown: str, engines: dict[str, tuple[PolicyEngine, PolicyEngine]]
) -> None:
    # OPA's Wasm JSON parser decodes an escaped pair past U+1FFFF as another character.
    wasm, embedded = engines["istio"]
    as_proxy = review(
        pod(containers=[{"name": name, "image": "x", "securityContext": {"runAsUser": 1337}}])
    )
    found = wasm.evaluate(as_proxy)
    assert [v for v in found if v.problem.startswith(f'container "{shown}" runs as the proxy')]
    assert found == embedded.evaluate(as_proxy)


# Any code point, controls, astral characters and lone surrogates included,
# and digits past int64 (config.linkerd.io/proxy-uid is read as a number).
any_text = st.text(st.characters(codec=None), max_size=12) | st.integers().map(str)
# The same without lone surrogates, which rego-cpp alone keeps as they are (above).
paired_text = st.text(
    st.characters(codec=None, exclude_categories=["Cs"]), max_size=12
) | st.integers().map(str)
# Integers of any size, past int64 too, and floats short of the ends of their
# range, which rego-cpp cannot round (test_policy_engine.py).
numbers = (
    st.integers()
    | st.sampled_from([2**31, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30])
    | st.floats(min_value=-1e300, max_value=1e300).filter(lambda f: f == 0 or abs(f) >= 1e-300)
)
any_value = any_text | numbers | st.booleans() | st.none()
paired_value = paired_text | numbers | st.booleans() | st.none()
# The keys the policies read, so that the values reach their messages, and any other.
POLICY_KEYS = (
    "sidecar.istio.io/inject",
    "linkerd.io/inject",
    "sidecar.istio.io/interceptionMode",
    "config.linkerd.io/proxy-uid",
    "config.linkerd.io/default-inbound-policy",
    "app",
    *ISTIO_CAPTURE_EXCLUSIONS,
    *LINKERD_CAPTURE_EXCLUSIONS,
)
keys = st.sampled_from(POLICY_KEYS) | any_text


@st.composite
def pod_reviews(draw: st.DrawFn, strings: st.SearchStrategy[Any]) -> tuple[str, dict[str, Any]]:
    """A pod in the provider's meshed namespace; ``strings`` fill what Kubernetes keeps as strings."""
    provider = draw(st.sampled_from(["istio", "linkerd"]))
    container = {
        "name": draw(st.sampled_from(["web", "istio-proxy", "linkerd-proxy"]) | strings),
        "image": draw(strings),
        "env": [{"name": "VALUE", "value": draw(any_value)}],
        "securityContext": {
            "runAsUser": draw(st.sampled_from([1337, 2102]) | numbers),
            "runAsGroup": draw(numbers),
        },
    }
    obj = pod(
        namespace="mesh-demo" if provider == "istio" else LINKERD_NS,
        labels=draw(st.dictionaries(keys, strings, max_size=4)),
        annotations=draw(st.dictionaries(keys, strings, max_size=4)),
        containers=[container],
    )
    return provider, review(obj)


def judged_alike(wasm: PolicyEngine, other: PolicyEngine, pod_review: dict[str, Any]) -> None:
    by_wasm = wasm.evaluate(pod_review)
    event("judged: violations" if by_wasm else "judged: none")
    assert by_wasm == other.evaluate(pod_review)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pod_reviews(paired_value))
def test_any_strings_and_numbers_in_a_pod_get_the_same_violations_from_both_engines(
    engines: dict[str, tuple[PolicyEngine, PolicyEngine]], generated: tuple[str, dict[str, Any]]
) -> None:
    provider, pod_review = generated
    judged_alike(*engines[provider], pod_review)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pod_reviews(any_value))
def test_a_review_decoded_from_json_gets_the_violations_of_the_same_review_built_in_python(
    engines: dict[str, tuple[PolicyEngine, PolicyEngine]], generated: tuple[str, dict[str, Any]]
) -> None:
    # A JSONDocument's input is written by orjson, a dict's by the standard library.
    provider, pod_review = generated
    wasm, _ = engines[provider]
    decoded = JSONDocument(json.loads(json.dumps(pod_review)))
    assert wasm.evaluate(decoded) == wasm.evaluate(pod_review)


@pytest.fixture(scope="module")
def opa_engines(
    tmp_path_factory: pytest.TempPathFactory,
    istio_data: dict[str, Any],
    linkerd_data: dict[str, Any],
    engines: dict[str, tuple[PolicyEngine, PolicyEngine]],
) -> Iterator[dict[str, tuple[PolicyEngine, PolicyEngine]]]:
    """``{provider: (wasm, opa)}``, OPA being a real server with the provider's bundle."""
    opa = require_tool("opa")
    tmp = tmp_path_factory.mktemp("bundles")
    with (
        opa_server(opa, "--bundle", str(write_bundle(tmp / "istio", istio_data))) as istio,
        opa_server(opa, "--bundle", str(write_bundle(tmp / "linkerd", linkerd_data))) as linkerd,
    ):
        yield {
            "istio": (engines["istio"][0], create_engine("opa", istio_data, opa_url=istio)),
            "linkerd": (engines["linkerd"][0], create_engine("opa", linkerd_data, opa_url=linkerd)),
        }


@pytest.mark.tools
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pod_reviews(any_value))
def test_any_json_where_kubernetes_has_strings_is_judged_as_opa_judges_it(
    opa_engines: dict[str, tuple[PolicyEngine, PolicyEngine]],
    generated: tuple[str, dict[str, Any]],
) -> None:
    provider, pod_review = generated
    judged_alike(*opa_engines[provider], pod_review)


def test_a_number_where_kubernetes_has_a_string_gets_the_same_violations_from_both_engines(
    engines: dict[str, tuple[PolicyEngine, PolicyEngine]],
) -> None:
    wasm, embedded = engines["istio"]
    numbered = review(pod(annotations={"sidecar.istio.io/interceptionMode": 0}))
    assert wasm.evaluate(numbered) == embedded.evaluate(numbered)


@pytest.mark.tools
@pytest.mark.parametrize("value", ["a\ud800b", "\udc00", 2**31, -(2**31), 2**64], ids=str)
def test_what_opas_wasm_runtime_alone_would_refuse_is_judged_as_opa_judges_it(
    value: Any, opa_engines: dict[str, tuple[PolicyEngine, PolicyEngine]]
) -> None:
    wasm, opa = opa_engines["istio"]
    opting_out = review(pod(labels={"sidecar.istio.io/inject": value}))
    found = opa.evaluate(opting_out)
    assert [v.path for v in found] == ['metadata.labels["sidecar.istio.io/inject"]']
    assert wasm.evaluate(opting_out) == found


def test_a_lone_surrogate_reaches_the_policies_as_the_replacement_character(
    engines: dict[str, tuple[PolicyEngine, PolicyEngine]],
) -> None:
    wasm, _ = engines["istio"]
    found = wasm.evaluate(review(pod(labels={"sidecar.istio.io/inject": "a\ud800b\ud840\udc00"})))
    assert [v.problem for v in found] == [
        'opts the pod out of sidecar injection: "a\ufffdb\U00020000"'
    ]


# -- the shipped module ---------------------------------------------------------------------


@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, dict[str, str]]:
    """The shipped module and its manifest, with the packaged Rego in force."""
    monkeypatch.delenv(POLICIES_ENV, raising=False)
    found = packaged()
    assert found is not None, "policies/policy.wasm or policies/policy.wasm.json is missing"
    return found


def test_the_shipped_module_is_built_from_the_packaged_rego(
    shipped: tuple[bytes, dict[str, str]],
) -> None:
    assert REBUILD in (wasm_bundle.__doc__ or "")
    assert shipped[1]["sources"] == sources_digest(policy_modules()), (
        f"the Rego changed since policies/policy.wasm was built: run `{REBUILD}`"
    )
    assert shipped[1]["entrypoint"] == ENTRYPOINT


def test_the_shipped_module_was_built_by_the_pinned_opa(
    shipped: tuple[bytes, dict[str, str]],
) -> None:
    pinned = re.search(
        r'^OPA_VERSION="v(.+)"$', (REPO / "tools" / "build.sh").read_text(), re.MULTILINE
    )
    assert pinned, "tools/build.sh pins no OPA_VERSION"
    assert shipped[1]["opa"] == pinned.group(1), f"rebuild with the pinned OPA: `{REBUILD}`"


@pytest.mark.tools
def test_the_pinned_opa_rebuilds_the_shipped_module_byte_for_byte(
    shipped: tuple[bytes, dict[str, str]],
) -> None:
    rebuilt = compile_wasm(str(require_tool("opa")), policy_modules())
    assert rebuilt == shipped[0], f"policies/policy.wasm is not what `{REBUILD}` builds"


# -- other Rego -----------------------------------------------------------------------------

OPT_OUT = "opts the pod out of sidecar injection: "
EDITED = "turns the sidecar away: "


def rego_copy(tmp_path: Path, edited: bool) -> Path:
    """The packaged policies (no tests) in a directory, the opt-out message reworded if ``edited``."""
    out = tmp_path / "policies"
    out.mkdir()
    for rego in (REPO / "src" / "meshc" / "policies" / "rego").glob("*.rego"):
        if not rego.name.endswith("_test.rego"):
            shutil.copy(rego, out / rego.name)
    if edited:
        path = out / "istio.rego"
        source = path.read_text()
        assert OPT_OUT in source
        path.write_text(source.replace(OPT_OUT, EDITED))
    return out


def no_opa(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(OPA_ENV, raising=False)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))


@pytest.mark.tools
def test_other_rego_is_compiled_with_opa_when_the_engine_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, istio_data: dict[str, Any]
) -> None:
    monkeypatch.setenv(POLICIES_ENV, str(rego_copy(tmp_path, edited=True)))
    monkeypatch.setenv(OPA_ENV, str(require_tool("opa")))
    found = create_engine("wasm", istio_data).evaluate(review(BAD_POD))
    assert [v.problem for v in found if v.problem.startswith(EDITED)] == [EDITED + '"false"']
    assert not [v for v in found if v.problem.startswith(OPT_OUT)]
    assert found == create_engine("embedded", istio_data).evaluate(review(BAD_POD))


def test_other_rego_without_opa_is_refused_naming_the_embedded_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, istio_data: dict[str, Any]
) -> None:
    monkeypatch.setenv(POLICIES_ENV, str(rego_copy(tmp_path, edited=True)))
    no_opa(monkeypatch, tmp_path)
    with pytest.raises(EngineError, match="--engine embedded"):
        create_engine("wasm", istio_data)


def test_an_unmodified_copy_of_the_rego_needs_no_opa(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, istio_data: dict[str, Any]
) -> None:
    monkeypatch.setenv(POLICIES_ENV, str(rego_copy(tmp_path, edited=False)))
    no_opa(monkeypatch, tmp_path)
    found = create_engine("wasm", istio_data).evaluate(review(BAD_POD))
    assert [v for v in found if v.problem.startswith(OPT_OUT)]
    assert found == create_engine("embedded", istio_data).evaluate(review(BAD_POD))


# -- modules and evaluations the engine cannot run ------------------------------------------


@pytest.mark.tools
def test_a_module_needing_a_builtin_the_wasm_runtime_lacks_is_refused_at_creation(
    istio_data: dict[str, Any],
) -> None:
    module = compile_wasm(
        str(require_tool("opa")),
        {
            "main.rego": "package meshc.main\n\n"
            'violations contains {"policy": "p", "problem": "prefixed"} if '
            'strings.any_prefix_match(input.request.object.metadata.name, ["w"])\n'
        },
    )
    with pytest.raises(EngineError, match=r"builtins .*: strings\.any_prefix_match; use --engine"):
        WasmEngine(istio_data, wasm=module)


CONFLICTS = {
    "complete rule": """
verdict := "deny" if input.request.object.metadata.labels.conflict
verdict := "allow" if input.request.object.metadata.labels.conflict
violations contains {"policy": "verdict", "problem": verdict}
""",
    "function": """
verdict(x) := "deny" if x
verdict(x) := "allow" if x
violations contains {"policy": "verdict", "problem": verdict(input.request.object.metadata.labels.conflict)}
""",
}


@pytest.mark.tools
@pytest.mark.parametrize("rule", sorted(CONFLICTS))
def test_a_rego_runtime_error_is_an_engine_error_and_the_next_review_is_answered(
    rule: str, istio_data: dict[str, Any]
) -> None:
    module = compile_wasm(
        str(require_tool("opa")),
        {
            "main.rego": "package meshc.main\n"
            'violations contains {"policy": "named", "problem": input.request.object.metadata.name}\n'
            + CONFLICTS[rule]
        },
    )
    normal = review(pod())
    expected = WasmEngine(istio_data, wasm=module).evaluate(normal)
    assert [v.problem for v in expected] == [normal["request"]["name"]]
    engine = WasmEngine(istio_data, wasm=module)
    # The error names the module as written, not the directory it was compiled in.
    with pytest.raises(
        EngineError, match=r"^policy evaluation failed: main\.rego:\d+:\d+: .*conflict"
    ):
        engine.evaluate(review(pod(labels={"conflict": "yes"})))
    assert engine.evaluate(normal) == expected


@pytest.mark.parametrize("number", [2**31 - 1, 2**31, -(2**31), 2**63, 10**30], ids=str)
def test_an_integer_is_shown_in_a_message_up_to_int32_and_as_a_number_past_it(
    number: int, engines: dict[str, tuple[PolicyEngine, PolicyEngine]]
) -> None:
    wasm, embedded = engines["istio"]
    opting_out = review(pod(labels={"sidecar.istio.io/inject": number}))
    found = wasm.evaluate(opting_out)
    shown = str(number) if abs(number) < 2**31 else "a number"
    assert [v.problem for v in found] == [f"opts the pod out of sidecar injection: {shown}"]
    assert embedded.evaluate(opting_out) == found


@pytest.mark.parametrize(
    "module",
    [b"", b"not wasm", b"\x00asm\x01\x00\x00\x00garbage", b"\x00asm\x01\x00\x00\x00", b"(module)"],
    ids=["empty", "text", "truncated", "an empty module", "a module without OPA's imports"],
)
def test_bytes_that_are_not_an_opa_policy_are_refused_at_creation(
    module: bytes, istio_data: dict[str, Any]
) -> None:
    with pytest.raises(EngineError, match="not a Wasm module|not an OPA policy"):
        WasmEngine(istio_data, wasm=module)


# -- memory ---------------------------------------------------------------------------------

BIG = {
    # The text fits the limit; what OPA parses it into does not.
    "many short strings": ["x" * 20] * 200_000,
    # The text alone is past the limit.
    "long strings": ["x" * 1000] * 10_000,
}


@pytest.mark.parametrize("what", sorted(BIG))
def test_a_review_past_the_memory_limit_is_an_engine_error_and_the_next_is_answered(
    what: str, monkeypatch: pytest.MonkeyPatch, istio_data: dict[str, Any]
) -> None:
    big = review(
        pod(labels={"sidecar.istio.io/inject": "false"}, hostNetwork=True, extra=BIG[what])
    )
    expected = create_engine("embedded", istio_data).evaluate(review(BAD_POD))
    # Within the real limit the list is judged as the rest of the pod is.
    assert create_engine("wasm", istio_data).evaluate(big) == expected
    monkeypatch.setattr(wasm_engine, "MEMORY_LIMIT", 8 * 1024 * 1024)
    engine = create_engine("wasm", istio_data)
    assert engine.evaluate(review(BAD_POD)) == expected
    with pytest.raises(EngineError, match="^policy evaluation failed: "):
        engine.evaluate(big)
    assert engine.evaluate(review(BAD_POD)) == expected
    assert (
        engine.evaluate(review(pod(containers=[{"name": "web", "image": "x"}, istio_proxy()])))
        == []
    )


def test_an_instance_grown_by_a_large_review_is_dropped_after_it_and_a_small_one_is_kept(
    istio_data: dict[str, Any],
) -> None:
    engine = create_engine("wasm", istio_data)
    engine.evaluate(review(BAD_POD))
    small = engine._instance()  # type: ignore[attr-defined]
    engine.evaluate(review(BAD_POD))
    assert engine._instance() is small  # type: ignore[attr-defined]
    big = review(pod(hostNetwork=True, extra=BIG["many short strings"]))
    assert [v.path for v in engine.evaluate(big)] == ["spec.hostNetwork"]
    assert small.memory_size() > wasm_engine.RETAIN_LIMIT
    fresh = engine._instance()  # type: ignore[attr-defined]
    assert fresh is not small and fresh.memory_size() < wasm_engine.RETAIN_LIMIT
    assert engine.evaluate(review(BAD_POD)) == engine.evaluate(review(BAD_POD))


# -- deadlines ------------------------------------------------------------------------------

# Quick unless the pod is labelled slow: then 10^8 steps, many seconds.
SLOW = """package meshc.main
violations contains {"policy": "named", "problem": input.request.object.metadata.name} if {
	input.request.object.metadata.labels.slow == "yes"
	some i in numbers.range(1, 10000)
	some j in numbers.range(1, 10000)
	i * j < 0
}
violations contains {"policy": "named", "problem": "quick"} if {
	not input.request.object.metadata.labels.slow
}
"""


@pytest.fixture(scope="module")
def slow_module() -> bytes:
    return compile_wasm(str(require_tool("opa")), {"main.rego": SLOW})


@pytest.mark.tools
def test_an_evaluation_past_its_deadline_is_stopped_there_and_the_engine_answers_on(
    slow_module: bytes, istio_data: dict[str, Any]
) -> None:
    import time

    engine = WasmEngine(istio_data, wasm=slow_module)
    quick = review(pod())
    assert [v.problem for v in engine.evaluate_within(quick, 0.3)] == ["quick"]
    started = time.monotonic()
    # Well before the memory cap: OPA's Wasm heap grows with every step.
    with pytest.raises(DeadlineExceeded):
        engine.evaluate_within(review(pod(labels={"slow": "yes"})), 0.3)
    # Stopped, not abandoned: the thread is free again at the deadline.
    assert 0.3 <= time.monotonic() - started < 1.3
    assert [v.problem for v in engine.evaluate_within(quick, 0.3)] == ["quick"]
    assert [v.problem for v in engine.evaluate(quick)] == ["quick"]


@pytest.mark.tools
def test_an_evaluation_without_a_deadline_is_not_stopped_while_the_epoch_advances(
    istio_data: dict[str, Any],
) -> None:
    import time

    module = compile_wasm(str(require_tool("opa")), {"main.rego": SLOW.replace("10000)", "1000)")})
    engine = WasmEngine(istio_data, wasm=module)
    assert [v.problem for v in engine.evaluate_within(review(pod()), 0.1)] == ["quick"]
    # The epoch now advances every TICK. A million steps with no deadline: an answer.
    started = time.monotonic()
    assert engine.evaluate(review(pod(labels={"slow": "yes"}))) == []
    assert time.monotonic() - started > 10 * wasm_engine.TICK


def test_closing_an_engine_ends_its_epoch_thread() -> None:
    from meshc.policies.wasm_engine import WasmEngine
    from support.policy_samples import data_for

    engine = WasmEngine(data_for("istio"))
    engine.evaluate_within(review(pod()), 5.0)  # a deadline starts the epoch thread
    thread = engine._ticker.thread
    assert thread is not None and thread.is_alive()
    engine.close()
    thread.join(timeout=5)  # it ends within a 10 ms tick; the bound only keeps a hang from hanging
    assert not thread.is_alive()
