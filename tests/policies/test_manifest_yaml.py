"""The manifests' YAML reader builds exactly what PyYAML's safe loader builds, and fails as it fails."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshc.policies import manifest_yaml
from meshc.policies.manifest_yaml import Loader, construct
from support.paths import REPO


def read(text: str) -> list[Any]:
    loader = Loader(text)
    try:
        found = []
        while loader.check_node():
            found.append(construct(loader, loader.get_node()))
        return found
    finally:
        loader.dispose()


def pyyaml(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=yaml.CSafeLoader))


DOCUMENTS = {
    "a workload": """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  replicas: 2
  template:
    metadata:
      annotations: {sidecar.istio.io/inject: "false", prometheus.io/port: '9090'}
    spec:
      containers:
      - name: app
        image: web:1
        securityContext: {runAsUser: 1337, privileged: false, capabilities: {add: [NET_ADMIN]}}
""",
    "YAML 1.1 scalars": """
booleans: [yes, No, on, OFF, true, False, y, n]
nulls: [~, null, Null, ""]
numbers: [0o17, 017, 0x1F, 1_000, -12, +3, 1.5e3, .inf, -.Inf, .nan, 6.02e+23, '12']
sexagesimal: [1:30, 190:20:30.15]
times: [2001-12-14t21:59:43.10-05:00, 2002-12-14, 2001-12-14 21:59:43.10 +1]
binary: !!binary aGVsbG8=
explicit: [!!str 123, !!int "42", !!float "1", !!bool "true", !!null ""]
keys: {1: a, 1.5: b, true: c, null: d, 2001-01-01: e}
""",
    "anchors and aliases": """
base: &base {cpu: 100m, memory: 64Mi}
list: &list [a, b]
uses: [*base, *base, *list]
scalar: &s hello
again: *s
""",
    "merge keys": """
defaults: &d {a: 1, b: 2}
merged:
  <<: *d
  b: 3
many:
  <<: [*d, {c: 4}]
""",
    "duplicate keys": "a: 1\nb: 2\na: 3\n",
    "other collection tags": """
ordered: !!omap [{a: 1}, {b: 2}]
pairs: !!pairs [{a: 1}, {a: 2}]
set: !!set {x, y}
""",
    "several documents": "---\na: 1\n---\n---\n- 1\n- two\n...\n---\nplain\n",
    "a recursive alias": "&r [a, *r]\n",
    "the value key": "=: 1\nb: 2\n",
}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_builds_what_pyyaml_builds(name: str) -> None:
    text = DOCUMENTS[name]
    ours, theirs = read(text), pyyaml(text)
    assert repr(ours) == repr(theirs)
    assert [type(v) for v in ours] == [type(v) for v in theirs]


def test_aliases_share_one_object_as_in_pyyaml() -> None:
    (doc,) = read(DOCUMENTS["anchors and aliases"])
    assert doc["uses"][0] is doc["uses"][1] is doc["base"]
    assert doc["uses"][2] is doc["list"]
    (recursive,) = read(DOCUMENTS["a recursive alias"])
    assert recursive[1] is recursive


def test_scalars_keep_their_types() -> None:
    (doc,) = read(DOCUMENTS["YAML 1.1 scalars"])
    assert doc["booleans"] == [True, False, True, False, True, False, "y", "n"]
    assert doc["numbers"][:8] == ["0o17", 15, 31, 1000, -12, 3, "1.5e3", float("inf")]
    assert doc["sexagesimal"] == [90, 685230.15]
    assert isinstance(doc["times"][0], datetime.datetime)
    assert doc["binary"] == b"hello"
    assert doc["explicit"] == ["123", 42, 1.0, True, None]


@pytest.mark.parametrize(
    "text",
    [
        "a: !custom 1\n",  # a tag the safe loader does not know
        "? [a, b]\n: 1\n",  # a key that is a list
        "a: !!binary not-base64!\n",  # a scalar PyYAML's constructor refuses
        "a: !!map x\n",  # a collection tag on a scalar
        "<<: 1\n",  # a merge key that merges nothing
    ],
)
def test_fails_as_pyyaml_fails(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as theirs:
        pyyaml(text)
    with pytest.raises(yaml.YAMLError) as ours:
        read(text)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


def test_every_manifest_in_the_repository_reads_as_in_pyyaml() -> None:
    compared = 0
    for path in sorted((REPO / "tests").rglob("*.yaml")) + sorted(
        (REPO / "examples").rglob("*.yaml")
    ):
        text = path.read_text(encoding="utf-8")
        try:
            theirs = pyyaml(text)
        except yaml.YAMLError:
            with pytest.raises(yaml.YAMLError):
                read(text)
            continue
        assert repr(read(text)) == repr(theirs), path
        compared += 1
    assert compared > 100


def test_deep_nesting_is_left_to_pyyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if the document nested deeper than Python's recursion limit:
    # PyYAML's constructor builds it without recursing.
    built = []

    def too_deep(self: Any, node: Any) -> Any:
        built.append(node)
        raise RecursionError

    monkeypatch.setattr(manifest_yaml._Builder, "build", too_deep)
    assert read("a: [1, {b: 2}]\n") == [{"a": [1, {"b": 2}]}]
    assert built


def test_a_plain_scalar_s_tag_is_resolved_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    resolve = yaml.resolver.BaseResolver.resolve

    def counted(self: Any, kind: Any, value: Any, implicit: Any) -> Any:
        calls.append(value)
        return resolve(self, kind, value, implicit)

    monkeypatch.setattr(manifest_yaml, "_PLAIN_TAGS", {})
    monkeypatch.setattr(manifest_yaml, "_resolve", counted)
    assert read("a: 1\nb: 1\nc: [a, 1]\n") == [{"a": 1, "b": 1, "c": ["a", 1]}]
    assert sorted(calls) == ["1", "a", "b", "c"]


def test_reads_files_as_scan_does(tmp_path: Path) -> None:
    from meshc.policies.manifests import scan_manifests

    (tmp_path / "a.yaml").write_text(DOCUMENTS["a workload"])
    (manifest,) = scan_manifests([str(tmp_path)]).manifests
    assert manifest.obj == pyyaml(DOCUMENTS["a workload"])[0]
    assert manifest.line_of("spec.template.spec.containers[0].securityContext.runAsUser") == 14
