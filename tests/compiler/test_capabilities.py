"""The capability matrix: published from the code, complete, and obeyed by every target.

The schema walk is the "nothing is dropped silently" guarantee: every field of
the spec schema belongs to a feature, and every target either renders it
(changing or removing it changes the output, or its value shows in the output)
or reports it with a diagnostic naming the field.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
import yaml

from meshc import providers
from meshc.compiler.capabilities import (
    FEATURES,
    FIELDS,
    NOT_TARGET_FIELDS,
    Support,
    columns,
)
from meshc.compiler.errors import SpecError
from meshc.compiler.loader import load_mesh
from meshc.compiler.schema import MESH_SCHEMA
from meshc.compiler.targets import RenderOptions, Report, render
from support.paths import REPO

DOC = REPO / "docs" / "capabilities.md"


def test_docs_capabilities_md_is_generated_from_the_code() -> None:
    result = subprocess.run([sys.executable, "-m", "meshc", "capabilities"],
                            capture_output=True, text=True, check=True)
    assert DOC.read_text(encoding="utf-8") == result.stdout, (
        "docs/capabilities.md is stale: run `meshc capabilities > docs/capabilities.md`")


def test_the_matrix_has_a_column_per_target_and_linkerd_routing_mode() -> None:
    assert columns() == [("istio", "default"), ("kuma", "default"), ("linkerd", "gateway-api"),
                         ("linkerd", "smi")]


def test_every_profile_column_is_a_routing_mode_of_its_own() -> None:
    for profile in providers.all_profiles():
        assert set(profile.capabilities) <= set(profile.routing_modes()), profile.name


@pytest.mark.parametrize("column", columns(), ids="/".join)
def test_every_lossy_entry_is_a_known_feature_and_says_what_is_rendered(column: tuple[str, str]) -> None:
    target, mode = column
    for feature, (level, note) in providers.get(target).capabilities.get(mode, {}).items():
        assert feature in FEATURES, f"{feature}: add it to FEATURES"
        assert level is not Support.EXACT, f"{feature}: exact features are left out of the matrix"
        assert note, f"{feature}: say what is rendered instead"


def test_every_field_mapping_names_a_known_feature() -> None:
    assert {f for f in FIELDS.values() if f not in FEATURES} == set()


# --- the schema walk --------------------------------------------------------------------------


def schema_leaves(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every leaf field of the schema as (path without indexes, its schema)."""
    children = False
    for name, sub in node.get("properties", {}).items():
        children = True
        yield from schema_leaves(sub, f"{path}.{name}" if path else name)
    if isinstance(node.get("additionalProperties"), dict):
        children = True
        yield from schema_leaves(node["additionalProperties"], f"{path}.*")
    if "items" in node:
        children = True
        yield from schema_leaves(node["items"], path)
    if not children:
        yield path, node


def not_for_targets(path: str) -> bool:
    return any(path == p or path.startswith(p + ".") for p in NOT_TARGET_FIELDS)


# Sets every field a target renders, each with a value no other field has.
WALK = """
apiVersion: meshc.io/v1alpha1
kind: Mesh
metadata: {name: walk}
spec:
  provider: istio
  mtls: PERMISSIVE
  trustDomain: walk.example
  namespaces:
    - {name: walk, labels: {walk-label: lv}, annotations: {walk-annotation: av}}
    - {name: callers}
  services:
    - name: shop
      namespace: walk
      selector: {app: shop}
      ports:
        - {name: web, port: 8081, targetPort: 9081, protocol: http2}
        - {name: admin, port: 8082, targetPort: admin-port}
      versions:
        - {name: blue, labels: {track: blue-pods}}
        - {name: green, labels: {track: green-pods}}
      routes:
        - name: by-header
          match:
            headers:
              x-exact: {exact: exact-value}
              x-prefix: {prefix: prefix-value}
              x-regex: {regex: "regex-value-[0-9]+"}
          to: green
        - match:
            path: {exact: /exact-path}
          to: green
        - match:
            path: {prefix: /prefix-path}
          to: green
        - match:
            path: {regex: "/regex-path/[a-z]+"}
          to: green
        - split: {blue: 73, green: 27}
      timeout: 17s
      retries:
        attempts: 7
        perTryTimeout: 3s
        retryOn: [5xx, gateway-error, retriable-4xx, reset, connect-failure, refused-stream]
      connectionPool:
        maxConnections: 1001
        http1MaxPendingRequests: 1002
        http2MaxRequests: 1003
        maxRequestsPerConnection: 1004
      outlierDetection:
        consecutive5xxErrors: 11
        interval: 13s
        baseEjectionTime: 37s
        maxEjectionPercent: 41
      allow:
        - fromNamespaces: [callers]
          ports: [8081]
        - fromServiceAccounts: [walk/buyer]
"""
WALK_DATA: dict[str, Any] = yaml.safe_load(WALK)


def occurrences(value: Any, path: str = "", concrete: str = "") -> Iterator[tuple[str, str, Any]]:
    """(schema path, concrete path, value) of every leaf set in a spec."""
    if isinstance(value, dict):
        for key, sub in value.items():
            # Map keys of free-form maps (labels, split, headers) are `*` in the schema path.
            schema_key = "*" if path.endswith(_MAPS) else key
            yield from occurrences(sub, f"{path}.{schema_key}" if path else key,
                                   f"{concrete}.{key}" if concrete else key)
    elif isinstance(value, list) and value and not isinstance(value[0], (dict, list)) \
            and not path.endswith(".retryOn"):
        yield path, concrete, value  # a list of names or ports is one field
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from occurrences(sub, path, f"{concrete}[{i}]")
    else:
        yield path, concrete, value


_MAPS = (".labels", ".annotations", ".selector", ".split", ".headers")


def field_key(schema_path: str, value: Any) -> str:
    keyed = f"{schema_path}={value}"
    return keyed if keyed in FIELDS else schema_path


def test_every_schema_field_has_a_feature_and_is_set_by_the_walk_spec() -> None:
    walked = {field_key(p, v) for p, _, v in occurrences(WALK_DATA)} | {
        p for p, _, _ in occurrences(WALK_DATA)}
    for path, node in schema_leaves(MESH_SCHEMA):
        if not_for_targets(path):
            continue
        keys = [f"{path}={v}" for v in node["enum"]] if node.get("enum") and \
            f"{path}={node['enum'][0]}" in FIELDS else [path]
        for key in keys:
            assert key in FIELDS, f"{key}: map it to a feature in FIELDS (add it to FEATURES)"
            if "=" not in key or key.startswith("spec.services.retries.retryOn="):
                assert key.split("=")[0] in walked, f"{key}: set it in the walk spec"


def _set(data: dict[str, Any], concrete: str, value: Any, remove: bool = False) -> dict[str, Any]:
    out = copy.deepcopy(data)
    parts = concrete.replace("]", "").replace("[", ".").split(".")
    node: Any = out
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last: Any = int(parts[-1]) if isinstance(node, list) else parts[-1]
    if remove:
        del node[last]
    else:
        node[last] = value
    return out


@cache
def _render(text: str, target: str, mode: str) -> tuple[str, Report] | None:
    try:
        mesh = load_mesh("walk.yaml", text=text)
    except SpecError:
        return None  # the variant is not a valid spec
    choices = {f"{target}-routing": mode} if mode != "default" else {}
    options = RenderOptions.of(choices=choices, allow_lossy=True)
    objects, report = render(mesh, options, target)
    return yaml.safe_dump(objects, sort_keys=True), report


def reported(report: Report, concrete: str) -> bool:
    """A problem names the field, a part of it, the list it is in, or the map entry it
    qualifies (a header's `exact`)."""
    parent = concrete.rsplit(".", 1)[0]
    return any(p.path in (concrete, parent) or p.path.startswith((concrete + ".", concrete + "["))
               or concrete.startswith(p.path + "[") for p in report.problems)


def rendered(data: dict[str, Any], base: str, schema_path: str, concrete: str, value: Any,
             target: str, mode: str) -> bool:
    enum = dict(schema_leaves(MESH_SCHEMA)).get(schema_path, {}).get("enum")
    if enum and not concrete.endswith("]"):
        variants = [_set(data, concrete, other) for other in enum if other != value]
    else:
        variants = [_set(data, concrete, None, remove=True)]
    for variant in variants:
        result = _render(yaml.safe_dump(variant, sort_keys=False), target, mode)
        if result is not None:
            return result[0] != base
    # The field cannot be changed alone (weights sum to 100, names are referenced): look for it.
    needles = value if isinstance(value, list) else [value]
    # "namespace/name" references are rendered in each mesh's own identity syntax.
    return all(part in base for v in needles for part in str(v).split("/"))


@pytest.mark.parametrize("column", columns(), ids="/".join)
@pytest.mark.parametrize("mtls", ["STRICT", "PERMISSIVE"])
def test_every_field_is_rendered_or_reported_by_every_target(column: tuple[str, str], mtls: str) -> None:
    target, mode = column
    data = copy.deepcopy(WALK_DATA)
    data["spec"]["mtls"] = mtls
    result = _render(yaml.safe_dump(data, sort_keys=False), target, mode)
    assert result is not None, "the walk spec must be valid"
    base, report = result
    silent = [
        concrete
        for schema_path, concrete, value in occurrences(data)
        if not not_for_targets(schema_path)
        and not reported(report, concrete)
        and not rendered(data, base, schema_path, concrete, value, target, mode)
    ]
    assert silent == [], f"{target} ({mode}) neither renders nor reports these fields"
