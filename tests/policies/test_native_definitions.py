"""Each Rego rule carries its CEL form in its METADATA, read as OPA reads it.

One definition holds both forms side by side (docs/native.md): a finding's
CEL, or an explicit reason why CEL cannot express it, for every body of every
``findings`` / ``*_findings`` rule, so a rule added to the Rego without its CEL
form fails here and in the generator, never silently in the cluster.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter

import pytest

from meshc import providers
from meshc.policies.native.compile import compile_policies, translated
from meshc.policies.native.definitions import DefinitionError, packaged, parse_modules
from meshc.policies.native.versions import LATEST
from support.paths import REPO, require_tool

REGO = REPO / "src" / "meshc" / "policies" / "rego"


def sources() -> dict[str, str]:
    return {
        p.name: p.read_text()
        for p in sorted(REGO.glob("*.rego"))
        if not p.name.endswith("_test.rego")
    }


def test_every_finding_has_a_cel_form_or_says_why_cel_cannot_express_it() -> None:
    catalogue = packaged()
    bodies = [
        b
        for b in catalogue.findings_bodies()
        if b.package not in providers.names() or translated(catalogue, b.package)
    ]
    assert len(bodies) > 70
    assert [b.where for b in bodies if b.kind not in ("finding", "include", "unsupported")] == []


def test_only_consul_s_and_kuma_s_rules_have_no_cel_forms_yet() -> None:
    assert [p for p in providers.names() if not translated(packaged(), p)] == ["consul", "kuma"]


def test_every_finding_has_a_title_unique_in_its_package() -> None:
    titles = Counter(
        (b.package, b.title) for b in packaged().findings_bodies() if b.kind == "finding"
    )
    assert [key for key, n in titles.items() if n > 1 or not key[1]] == []


@pytest.mark.parametrize("provider", ["istio", "linkerd"])
def test_every_rule_is_native_on_the_latest_release(provider: str) -> None:
    for policy in compile_policies(packaged(), provider):
        assert [r.id for r in policy.rules if r.refused(LATEST)] == [], policy.id


def test_a_finding_added_without_its_cel_form_is_refused_naming_where_it_is() -> None:
    source = sources()
    source["istio.rego"] += (
        '\ninjection_findings contains finding if {\n\tk8s.kind == "Pod"\n'
        '\tfinding := {"path": "x", "problem": "y", "fix": "z"}\n}\n'
    )
    line = source["istio.rego"].count("\n") - 3
    with pytest.raises(
        DefinitionError, match=rf"istio\.rego:{line}: istio\.injection_findings has no CEL form"
    ):
        compile_policies(parse_modules(source), "istio")


def test_a_rule_cel_cannot_express_is_listed_with_its_reason() -> None:
    source = sources()
    source["istio.rego"] += (
        "\n# METADATA\n# title: beyond-cel\n# custom:\n#   cel: {unsupported: reads another object}\n"
        'injection_findings contains finding if {\n\tk8s.kind == "Pod"\n'
        '\tfinding := {"path": "x", "problem": "y", "fix": "z"}\n}\n'
    )
    (policy,) = [
        p for p in compile_policies(parse_modules(source), "istio") if p.id == "injection-required"
    ]
    (rule,) = [r for r in policy.rules if r.id == "beyond-cel"]
    assert (rule.expression, rule.refused(LATEST)) == (None, "reads another object")


def test_rules_and_packages_it_does_not_know_are_read_without_harm() -> None:
    """Another branch's rules (an exceptions filter, a mesh of its own) parse as rules without CEL."""
    source = {
        **sources(),
        "exceptions.rego": (
            "package meshc.exceptions\n\nimport rego.v1\n\n"
            "excepted contains key if {\n\tsome key in data.meshc.config.exceptions\n}\n"
        ),
    }
    catalogue = parse_modules(source)
    assert [d.name for d in catalogue.bodies("exceptions", "excepted")] == ["excepted"]
    assert {p.id for p in compile_policies(catalogue, "istio")} == {
        "injection-required",
        "mtls-strict",
        "allowed-namespaces",
        "managed-objects",
    }


@pytest.mark.tools
def test_the_metadata_read_is_the_metadata_opa_reads() -> None:
    opa = require_tool("opa")
    out = subprocess.run(
        [str(opa), "inspect", "-a", "--format", "json", str(REGO)],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = {
        (a["location"]["file"].rsplit("/", 1)[-1], a["location"]["row"]): a["annotations"][
            "custom"
        ]["cel"]
        for a in json.loads(out.stdout)["annotations"]
        if "cel" in (a["annotations"].get("custom") or {})
        and not a["location"]["file"].endswith("_test.rego")
    }
    ours = {
        (d.file, d.line): d.form
        for m in packaged().modules
        for d in m.definitions
        if d.form is not None
    }
    assert ours == theirs


@pytest.mark.tools
def test_constants_are_the_values_opa_evaluates() -> None:
    opa = require_tool("opa")
    names = {
        "k8s": "lib.k8s",
        "mesh": "lib.mesh",
        "istio": "providers.istio",
        "linkerd": "providers.linkerd",
    }
    constants = [d for m in packaged().modules for d in m.definitions if d.kind == "literal"]
    assert len(constants) > 15
    for d in constants:
        query = f"data.meshc.{names.get(d.package, d.package)}.{d.name}"
        out = subprocess.run(
            [str(opa), "eval", "-f", "json", "-d", str(REGO), query],
            capture_output=True,
            text=True,
            check=True,
        )
        value = json.loads(out.stdout)["result"][0]["expressions"][0]["value"]
        assert _as_lists(value) == _as_lists(d.literal), query


def _as_lists(value: object) -> object:
    """OPA prints a set as an array in no promised order: compare sorted."""
    if isinstance(value, list):
        items = [_as_lists(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, dict):
        return {k: _as_lists(v) for k, v in value.items()}
    return value
