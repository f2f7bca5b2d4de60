"""The capability matrix: published from the code, complete, and obeyed by every target.

The schema walk is the "nothing is dropped silently" guarantee: every field of
the spec schema belongs to a feature, and every target either renders it
(changing or removing it changes the output, or its value shows in the output)
or reports it with a diagnostic naming the field.
"""

from __future__ import annotations

import copy
import re
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
    ONLY_FOR,
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
    result = subprocess.run(
        [sys.executable, "-m", "meshc", "capabilities"], capture_output=True, text=True, check=True
    )
    assert DOC.read_text(encoding="utf-8") == result.stdout, (
        "docs/capabilities.md is stale: run `meshc capabilities > docs/capabilities.md`"
    )


def test_the_matrix_has_a_column_per_target_and_linkerd_routing_mode() -> None:
    assert columns() == [
        ("consul", "default"),
        ("istio", "virtualservice"),
        ("istio", "gateway-api"),
        ("istio", "ambient"),
        ("kuma", "default"),
        ("linkerd", "gateway-api"),
        ("linkerd", "smi"),
    ]


def test_every_profile_column_is_a_routing_mode_or_data_plane_of_its_own() -> None:
    for profile in providers.all_profiles():
        assert set(profile.capabilities) <= set(profile.columns()), profile.name


@pytest.mark.parametrize("column", columns(), ids="/".join)
def test_every_lossy_entry_is_a_known_feature_and_says_what_is_rendered(
    column: tuple[str, str],
) -> None:
    target, mode = column
    for feature, (level, note) in providers.get(target).capabilities.get(mode, {}).items():
        assert feature in FEATURES, f"{feature}: add it to FEATURES"
        assert level is not Support.EXACT, f"{feature}: exact features are left out of the matrix"
        assert note, f"{feature}: say what is rendered instead"


def test_every_field_mapping_names_a_known_feature() -> None:
    assert {f for f in FIELDS.values() if f not in FEATURES} == set()


# --- the schema walk --------------------------------------------------------------------------


def schema_leaves(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every leaf field of the schema as (path without indexes, its schema); a node defined in
    $defs is walked where it is referred to."""
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/$defs/")
        node = {**MESH_SCHEMA["$defs"][name], **{k: v for k, v in node.items() if k != "$ref"}}
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


def only_for_others(path: str, target: str) -> bool:
    """A field only other targets read (capabilities.ONLY_FOR)."""
    return any(
        (path == p or path.startswith(p + ".")) and target not in targets
        for p, (targets, _) in ONLY_FOR.items()
    )


# Sets every field a target renders, each with a value no other field has.
WALK = """
apiVersion: meshc.io/v1alpha1
kind: Mesh
metadata: {name: walk}
spec:
  provider: istio
  mtls: PERMISSIVE
  trustDomain: walk.example
  revision: walk-rev
  namespaces:
    - {name: walk, labels: {walk-label: lv}, annotations: {walk-annotation: av}}
    - {name: callers, revision: callers-rev}
    - {name: owned, manage: false}
  services:
    - name: shop
      namespace: walk
      selector: {app: shop}
      ports:
        - {name: web, port: 8081, targetPort: 9081, protocol: http2}
        - {name: admin, port: 8082, targetPort: admin-port}
        - {name: rpc, port: 8084, targetPort: 9084, protocol: grpc}
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
        - name: any-of
          matches:
            - headers:
                x-m-exact: {exact: m-exact-value}
                x-m-prefix: {prefix: m-prefix-value}
                x-m-regex: {regex: "m-regex-value-[0-9]+"}
            - path: {exact: /m-exact-path}
            - path: {prefix: /m-prefix-path}
            - path: {regex: "/m-regex-path/[a-z]+"}
            - grpc: {service: walk.MatchesService, method: MatchesMethod}
          to: green
          timeout: 19s
          retries:
            attempts: 5
            perTryTimeout: 6s
            retryOn: [5xx, gateway-error, retriable-4xx, reset, connect-failure, refused-stream,
                      cancelled, deadline-exceeded, internal, resource-exhausted, unavailable]
          headers:
            request: {set: {x-req-set: req-set}, add: {x-req-add: req-add}, remove: [x-req-remove]}
            response: {set: {x-res-set: res-set}, add: {x-res-add: res-add}, remove: [x-res-remove]}
          rewrite: {path: /rewritten-path, host: rewritten.walk.example}
          fault:
            delay: {fixed: 9s, percent: 23}
            abort: {httpStatus: 503, percent: 29, service: {name: abort-errors, port: 8099}}
          mirror: {to: blue, percent: 31}
        - match:
            grpc: {service: walk.GrpcService, method: GrpcMethod}
          fault:
            abort: {grpcStatus: UNAVAILABLE, percent: 37, service: {name: abort-grpc, port: 8098}}
          mirror: {service: mirror-target, namespace: callers, port: 8090, percent: 43}
          to: green
        - match:
            path: {exact: /redirect-path}
          redirect: {path: /redirected-path, host: redirect.walk.example, scheme: https, port: 8443,
                     statusCode: 302}
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
        retryOn: [5xx, gateway-error, retriable-4xx, reset, connect-failure, refused-stream,
                  cancelled, deadline-exceeded, internal, resource-exhausted, unavailable]
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
      rateLimit: {requestsPerSecond: 47, perCallerRequestsPerSecond: 53}
    - name: mirror-target
      namespace: callers
      selector: {app: mirror-target}
      ports:
        - {name: http, port: 8090, targetPort: 9090}
        - {name: metrics, port: 8091, targetPort: 9091}
      retries: {attempts: 0}
    - {name: cart, namespace: owned, selector: {app: cart},
       ports: [{name: cart-http, port: 8091, targetPort: 9091}]}
    # The app's own Service: its ports describe that Service (a rendered AuthorizationPolicy
    # or Server may read them), so they are not checked as rendered below.
    - {name: own, namespace: owned, selector: {app: own-pods}, service: {manage: false},
       ports: [{name: own-http, port: 8092, targetPort: 9092}], timeout: 23s}
  ingress:
    - name: walk-in
      namespace: walk
      gateway: {namespace: gateways, serviceAccount: walk-gateway, selector: {gw: walk-gw},
                className: walk-class}
      listeners:
        - {name: plain, port: 8001, protocol: HTTP, hosts: [plain.walk.example]}
        - {name: secure, port: 8002, protocol: HTTPS, hosts: [secure.walk.example],
           tls: {secretName: walk-cert}}
      routes:
        - match:
            headers:
              x-in-exact: {exact: in-exact-value}
              x-in-prefix: {prefix: in-prefix-value}
              x-in-regex: {regex: "in-regex-value-[0-9]+"}
            path: {exact: /in-exact-path}
          backend: {service: shop, namespace: walk, port: 8081}
          timeout: 21s
          headers:
            request: {set: {x-in-set: in-set}, add: {x-in-add: in-add}, remove: [x-in-remove]}
            response: {set: {x-out-set: out-set}, add: {x-out-add: out-add}, remove: [x-out-rm]}
          rewrite: {path: /in-rewritten-path, host: in-rewritten.walk.example}
        - matches:
            - headers:
                x-ins-exact: {exact: ins-exact-value}
                x-ins-prefix: {prefix: ins-prefix-value}
                x-ins-regex: {regex: "ins-regex-value-[0-9]+"}
            - path: {prefix: /in-prefix-path}
            - path: {regex: "/in-regex-path/[a-z]+"}
            - grpc: {service: walk.IngressService, method: IngressMethod}
            - path: {exact: /ins-exact-path}
          backend: {service: mirror-target, namespace: callers, port: 8090}
        - match:
            path: {prefix: /in-only-prefix}
          backend: {service: shop, port: 8082}
        - match:
            path: {regex: "/in-only-regex/[0-9]+"}
          backend: {service: shop, port: 8081}
        - match:
            grpc: {service: walk.IngressOther, method: OtherMethod}
          redirect: {path: /in-redirected-path, host: in-redirect.walk.example, scheme: https,
                     port: 9443, statusCode: 302}
  egress:
    hosts:
      - host: api.walk.example
        ports:
          - {port: 8443, protocol: tls}
          - {port: 8080, protocol: http}
  telemetry:
    - name: walk-namespace
      namespace: walk
      tracing: {samplingPercent: 59}
      accessLogging: {enabled: true}
      metrics: {enabled: false}
    - name: walk-workload
      namespace: walk
      selector: {app: shop}
      accessLogging: {enabled: false}
"""
WALK_DATA: dict[str, Any] = yaml.safe_load(WALK)


def occurrences(value: Any, path: str = "", concrete: str = "") -> Iterator[tuple[str, str, Any]]:
    """(schema path, concrete path, value) of every leaf set in a spec."""
    if isinstance(value, dict):
        for key, sub in value.items():
            # Map keys of free-form maps (labels, split, headers) are `*` in the schema path.
            schema_key = "*" if path.endswith(_MAPS) else key
            yield from occurrences(
                sub,
                f"{path}.{schema_key}" if path else key,
                f"{concrete}.{key}" if concrete else key,
            )
    elif (
        isinstance(value, list)
        and value
        and not isinstance(value[0], (dict, list))
        and not path.endswith(".retryOn")
    ):
        yield path, concrete, value  # a list of names or ports is one field
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from occurrences(sub, path, f"{concrete}[{i}]")
    else:
        yield path, concrete, value


# Free-form maps; a match's headers are one, a route's header manipulation is not.
_MAPS = (
    ".labels",
    ".annotations",
    ".selector",
    ".split",
    "match.headers",
    "matches.headers",
    ".set",
    ".add",
)


def field_key(schema_path: str, value: Any) -> str:
    keyed = f"{schema_path}={value}"
    return keyed if keyed in FIELDS else schema_path


def test_every_schema_field_has_a_feature_and_is_set_by_the_walk_spec() -> None:
    walked = {field_key(p, v) for p, _, v in occurrences(WALK_DATA)} | {
        p for p, _, _ in occurrences(WALK_DATA)
    }
    for path, node in schema_leaves(MESH_SCHEMA):
        if not_for_targets(path):
            continue
        keys = (
            [f"{path}={v}" for v in node["enum"]]
            if node.get("enum") and f"{path}={node['enum'][0]}" in FIELDS
            else [path]
        )
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


def _choices(target: str, mode: str) -> dict[str, str]:
    """The routing option of a routing mode's column (a data plane's column is the spec's)."""
    return (
        {f"{target}-routing": mode}
        if mode in providers.get(target).routing_modes() and mode != "default"
        else {}
    )


def _on_column(data: dict[str, Any], target: str, mode: str) -> dict[str, Any]:
    """The walk spec on the column's data plane (ambient's column: spec.dataplane ambient)."""
    if mode in providers.get(target).dataplanes[1:]:
        data["spec"]["dataplane"] = mode
    return data


@cache
def _render(text: str, target: str, mode: str) -> tuple[str, Report] | None:
    try:
        mesh = load_mesh("walk.yaml", text=text)
    except SpecError:
        return None  # the variant is not a valid spec
    options = RenderOptions.of(choices=_choices(target, mode), allow_lossy=True)
    try:
        objects, report = render(mesh, options, target)
    except SpecError:
        return None  # the variant is an error on this target (gateway.className on Linkerd)
    return yaml.safe_dump(objects, sort_keys=True), report


def reported(report: Report, concrete: str) -> bool:
    """A problem names the field, a part of it, the list it is in, or the map entry it
    qualifies (a header's `exact`)."""
    parent = concrete.rsplit(".", 1)[0]
    return any(
        p.path in (concrete, parent)
        or p.path.startswith((concrete + ".", concrete + "["))
        or concrete.startswith(p.path + "[")
        for p in report.problems
    )


def rendered(
    data: dict[str, Any],
    base: str,
    schema_path: str,
    concrete: str,
    value: Any,
    target: str,
    mode: str,
) -> bool:
    enum = dict(schema_leaves(MESH_SCHEMA)).get(schema_path, {}).get("enum")
    if isinstance(value, bool):
        variants = [_set(data, concrete, not value)]
    elif enum and not concrete.endswith("]"):
        variants = [_set(data, concrete, other) for other in enum if other != value]
    else:
        variants = [_set(data, concrete, None, remove=True)]
    for variant in variants:
        result = _render(yaml.safe_dump(variant, sort_keys=False), target, mode)
        if result is not None:
            return result[0] != base
    # The field cannot be changed alone (weights sum to 100, names are referenced): look for it.
    needles = value if isinstance(value, list) else [value]
    # "namespace/name" references are rendered in each mesh's own identity syntax, and a
    # string prefix may be rendered as a regular expression.
    return all(
        part in base or re.escape(part) in base for v in needles for part in str(v).split("/")
    )


def described_own_service(data: dict[str, Any], concrete: str) -> bool:
    """A port or selector of a service whose Service is the app's own (service.manage: false)."""
    for i, svc in enumerate(data["spec"].get("services") or []):
        if (svc.get("service") or {}).get("manage") is False and concrete.startswith(
            (f"spec.services[{i}].ports", f"spec.services[{i}].selector")
        ):
            return True
    return False


@pytest.mark.parametrize("column", columns(), ids="/".join)
@pytest.mark.parametrize("mtls", ["STRICT", "PERMISSIVE"])
def test_every_field_is_rendered_or_reported_by_every_target(
    column: tuple[str, str], mtls: str
) -> None:
    target, mode = column
    data = _on_column(copy.deepcopy(WALK_DATA), target, mode)
    data["spec"]["mtls"] = mtls
    result = _render(yaml.safe_dump(data, sort_keys=False), target, mode)
    assert result is not None, "the walk spec must be valid"
    base, report = result
    silent = [
        concrete
        for schema_path, concrete, value in occurrences(data)
        if not not_for_targets(schema_path)
        and not only_for_others(schema_path, target)
        and not described_own_service(data, concrete)
        and not reported(report, concrete)
        and not rendered(data, base, schema_path, concrete, value, target, mode)
    ]
    assert silent == [], f"{target} ({mode}) neither renders nor reports these fields"


@pytest.mark.parametrize("column", columns(), ids="/".join)
def test_what_the_walk_spec_renders_validates_against_the_upstream_crds(
    column: tuple[str, str],
) -> None:
    # Every feature at once: each rendered field must be one the upstream CRDs accept.
    from support.schemas import assert_valid

    target, mode = column
    choices = _choices(target, mode)
    if target == "istio":
        choices["istio-rate-limit"] = "envoyfilter"
    mesh = load_mesh(
        "walk.yaml",
        text=yaml.safe_dump(_on_column(copy.deepcopy(WALK_DATA), target, mode), sort_keys=False),
    )
    objects, _ = render(mesh, RenderOptions(choices, allow_lossy=True), target)
    assert_valid(objects, gateway_channel="linkerd" if target == "linkerd" else "standard")
