"""The input rego-cpp gets node by node is the tree its JSON parser builds from the same review.

Each document is handed over both ways and read back through rego-cpp; the
two must agree on the whole document, on every string's length and on its
JSON encoding, so a policy can never tell which way its input came.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import regopy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshc.policies import rego_input
from meshc.policies.engine import PolicyEngine, input_text, policy_input
from meshc.policies.manifests import load_manifests
from meshc.policies.review import admission_review
from support.paths import REPO
from support.policy_samples import sample_files

sys.path.insert(0, str(REPO / "bench"))
# bench/reviews.py: the Pod CREATE as the API server sends it.
import reviews

# Read back: the document, each string's length, and each string as JSON.
READ_BACK = (
    "input",
    "[count(s) | walk(input, [_, s]); is_string(s)]",
    "[json.marshal(s) | walk(input, [_, s]); is_string(s)]",
)


def read_back(document: Any, *, built: bool) -> list[str]:
    rego = regopy.Interpreter()
    if built:
        assert rego_input.set_input(rego._impl, document), "the builder must take this document"
    else:
        rego.set_input_term(input_text(document))
    return [str(rego.query(query)) for query in READ_BACK]


def sample_reviews() -> list[dict[str, Any]]:
    found = []
    for path in sample_files():
        for manifest in load_manifests([str(path)]):
            found.append(policy_input(admission_review(manifest.obj)))
    return found


@pytest.mark.parametrize("index", range(3))
def test_a_typical_pod_create_reads_back_the_same(index: int) -> None:
    document = policy_input(reviews.pod_create(random.Random(index)))
    assert read_back(document, built=True) == read_back(document, built=False)


def test_every_policy_sample_reads_back_the_same() -> None:
    # YAML gives int map keys (portLevelMtls: {8080: ...}), which only JSON
    # text turns into strings: those samples are left to the parser.
    rego = regopy.Interpreter()
    documents = [d for d in sample_reviews() if rego_input.set_input(rego._impl, d)]
    assert len(documents) > 50
    for document in documents:
        assert read_back(document, built=True) == read_back(document, built=False)


@pytest.mark.parametrize(
    "text",
    [
        'a"b',
        "a\\b",
        "é",
        "日本",
        "x\ny\tz\r",
        "\u2028\u2029",
        "\x00\x1f\x7f",
        "\ud800",
        "😀",
        "</script>",
        "",
    ],
)
def test_strings_that_need_escaping_read_back_the_same(text: str) -> None:
    document = {text: [text, {"k": text}]}
    assert read_back(document, built=True) == read_back(document, built=False)


@pytest.mark.parametrize("number", [0, -1, 1337, 2**63 - 1, -(2**63)])
def test_every_int64_reads_back_the_same(number: int) -> None:
    document = {"n": number, "l": [number, True, False, None]}
    assert read_back(document, built=True) == read_back(document, built=False)


@pytest.mark.parametrize(
    "document",
    [
        {"f": 1.5},
        {"f": [1e-9]},
        {"big": 2**63},
        {"small": -(2**63) - 1},
        {1: "non-string key"},
        {"t": ("tuple",)},
    ],
    ids=["float", "tiny-float", "past-int64", "below-int64", "int-key", "tuple"],
)
def test_what_only_json_text_says_exactly_is_left_to_the_parser(document: Any) -> None:
    rego = regopy.Interpreter()
    rego.set_input_term('{"before": true}')
    assert rego_input.set_input(rego._impl, document) is False
    assert str(rego.query("input.before")) == '{"expressions":[true]}'


def test_a_document_too_deep_to_build_is_left_to_the_parser() -> None:
    document: Any = "leaf"
    for _ in range(sys.getrecursionlimit() + 10):
        document = [document]
    rego = regopy.Interpreter()
    assert rego_input.set_input(rego._impl, document) is False


@pytest.mark.parametrize(
    "policy",
    sorted((REPO / "src" / "meshc" / "policies" / "rego").glob("*.rego")),
    ids=lambda p: p.stem,
)
def test_no_policy_marshals_a_value(policy: Path) -> None:
    # rego-cpp cannot marshal an array of a built input (its C API leaves the
    # array's items unwrapped): json.marshal would be undefined there, and a
    # message that is undefined drops its violation.
    code = "\n".join(line.split("#", 1)[0] for line in policy.read_text().splitlines())
    assert not re.search(r"\b(json|yaml)\.marshal", code), f"{policy.name} marshals a value"


def test_what_the_marshal_guard_is_for() -> None:
    rego = regopy.Interpreter()
    assert rego_input.set_input(rego._impl, {"a": ["x"]})
    assert str(rego.query("json.marshal(input.a)")) == "undefined"
    assert str(rego.query("count(input.a)")) == '{"expressions":[1]}'


def test_a_review_with_a_float_is_judged_as_its_json_text(istio_engine: PolicyEngine) -> None:
    path = REPO / "tests" / "policies" / "samples" / "injection-required" / "denied"
    manifest = load_manifests([str(next(path.glob("*.yaml")))])[0]
    review = admission_review(manifest.obj)
    with_float = json.loads(json.dumps(review))
    with_float["request"]["object"].setdefault("spec", {})["activeDeadlineSeconds"] = 1.5
    denied = istio_engine.evaluate(review)
    assert denied
    assert istio_engine.evaluate(with_float) == denied


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(st.characters(codec=None)),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(st.characters(codec=None), max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_document_reads_back_the_same(document: Any) -> None:
    assert read_back(document, built=True) == read_back(document, built=False)


def test_the_engine_builds_the_input_rather_than_parsing_it(
    istio_engine: PolicyEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    original = regopy.Interpreter.set_input_term

    def spy(self: regopy.Interpreter, term: str) -> None:
        parsed.append(term)
        original(self, term)

    monkeypatch.setattr(regopy.Interpreter, "set_input_term", spy)
    review = reviews.pod_create(random.Random(7))
    assert istio_engine.evaluate(review) == []
    assert parsed == []


def test_samples_get_the_same_violations_built_or_parsed(
    istio_engine: PolicyEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = sample_reviews()
    built = [istio_engine.evaluate(d) for d in documents]
    monkeypatch.setattr(rego_input, "set_input", lambda interpreter, document: False)
    parsed = [istio_engine.evaluate(d) for d in documents]
    assert built == parsed
    assert any(built), "some samples must be denied, or the comparison proves nothing"

