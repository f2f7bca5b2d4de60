"""CEL forms become plain CEL: references resolved, macros expanded hygienically, constants typed."""

from __future__ import annotations

import pytest

from meshc.policies.native.definitions import DefinitionError, parse_modules
from meshc.policies.native.expand import BUILTINS, Expander, substitute, tokenize
from meshc.policies.native.literals import cel_literal, cel_string, parse_rego_term
from meshc.policies.native.versions import parse, required, serves

MODULE = """package meshc.lib.demo

# METADATA
# custom:
#   cel: request.kind.kind
kind := input.request.kind.kind

# METADATA
# custom:
#   cel: "[x].map(_v, _v + $kind)[0]"
suffixed(x) := concat("", [x, kind])

# METADATA
# custom:
#   cel: {literal: true}
names := {"b", "a"}

# METADATA
# custom:
#   cel: "$suffixed('kind: ') + ' ' + string(size($names))"
label := "unused"
"""


def expander() -> Expander:
    return Expander(parse_modules({"demo.rego": MODULE}), "istio")


def test_a_rule_becomes_a_variable_that_joins_the_policy_after_what_it_reads() -> None:
    e = expander()
    assert e.expand("$label.size()", "demo") == "variables.demo_label.size()"
    assert list(e.variables) == ["demo_kind", "demo_names", "demo_label"]
    assert e.variables["demo_names"] == "['a', 'b']"  # a Rego set: a sorted list


def test_a_macro_is_expanded_with_its_own_variables_renamed() -> None:
    e = expander()
    text = e.expand("$suffixed(_v)", "demo")
    # The caller's _v is not captured by the macro's own comprehension variable.
    assert text == "([(_v)].map(_v1, _v1 + variables.demo_kind)[0])"


def test_strings_and_field_names_are_never_rewritten() -> None:
    assert substitute("x.value + value + '$value' + {'value': value}", {"value": "(1)"}) == (
        "x.value + (1) + '$value' + {'value': (1)}"
    )
    assert next(iter(tokenize("r'''a'b''' + $k8s.kind + @upper(x)"))).kind == "string"


def test_a_reference_to_nothing_names_what_is_missing() -> None:
    with pytest.raises(DefinitionError, match="demo.nothing: no rule"):
        expander().expand("$nothing", "demo")
    # Not a package: a rule of this package, then a field or method of its value.
    with pytest.raises(DefinitionError, match="demo.nowhere: no rule"):
        expander().expand("$nowhere.size()", "demo")


def test_go_upper_and_lower_case_mappings_are_kept() -> None:
    """OPA's upper and lower are Go's: four non-ASCII letters map to ASCII ones."""
    assert "'\u0131', 'I'" in BUILTINS["upper"][1] and "'\u017f', 'S'" in BUILTINS["upper"][1]
    assert "'\u0130', 'i'" in BUILTINS["lower"][1] and "'\u212a', 'k'" in BUILTINS["lower"][1]


def test_rego_constants_parse_as_opa_reads_them() -> None:
    text = 'x := {"a": [1, 2.5, true, null], "b": {"c", `d`}} # note'
    value, end = parse_rego_term(text, 5)
    assert value == {"a": [1, 2.5, True, None], "b": ["c", "d"]}
    # The term ends where the comment begins.
    assert text[end:] == " # note"


def test_cel_literals_wrap_mixed_elements_in_dyn() -> None:
    assert cel_literal(["a", "b"]) == "['a', 'b']"
    assert (
        cel_literal({"k": [1, "x"], "n": None}) == "{'k': dyn([dyn(1), dyn('x')]), 'n': dyn(null)}"
    )
    assert cel_string("it's\n\x00") == r"'it\'s\n\x00'"


def test_the_release_an_expression_needs_follows_what_it_uses() -> None:
    assert required("x.map(v, v)")[0] == (1, 30)
    assert required("x.transformList(i, v, v)") == ((1, 33), ["two-variable comprehensions"])
    assert required("x.sort()")[0] == (1, 35)
    assert required("'x.sort()'")[0] == (1, 30)  # inside a string it is no call


def test_releases_and_what_they_serve() -> None:
    assert parse("v1.34.2") == (1, 34)
    assert serves((1, 36)).mutating == "admissionregistration.k8s.io/v1"
    assert serves((1, 34)).mutating == "admissionregistration.k8s.io/v1beta1"
    assert serves((1, 33)).mutating is None
    with pytest.raises(ValueError, match="native enforcement needs 1.30 or later"):
        serves((1, 29))
    with pytest.raises(ValueError, match="not a Kubernetes version"):
        parse("latest")
