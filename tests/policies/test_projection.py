"""The projection of an AdmissionReview: what it removes can never change a decision.

Three guards: no policy names a field the projection removes; every sample,
with every removable field added, is judged the same with and without it;
and it never raises on, nor modifies, whatever it is given.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshc import providers
from meshc.policies import engine as engine_module
from meshc.policies.admission import admission_review
from meshc.policies.engine import EngineError, PolicyEngine, input_text, policy_input
from meshc.policies.manifests import load_manifests
from meshc.policies.projection import (
    ANNOTATIONS,
    CONTAINER_FIELDS,
    CONTAINER_LISTS,
    MESH_CONTAINER_KEPT,
    MESH_CONTAINERS,
    METADATA_FIELDS,
    OBJECT_FIELDS,
    POD_SPEC_FIELDS,
    PRUNED_NAMES,
    REQUEST_FIELDS,
    project,
)
from meshc.policies.violations import format_message
from support.paths import REPO
from support.policy_samples import sample_files, spec_for

POLICIES = sorted(
    p
    for p in (REPO / "src" / "meshc" / "policies" / "rego").glob("*.rego")
    if not p.stem.endswith("_test")
)
LAST_APPLIED = next(iter(ANNOTATIONS))


# --- 1. no policy reads what the projection removes -------------------------


def split_rego(source: str) -> tuple[str, list[str]]:
    """The code of a Rego module with comments and strings blanked, and its string literals."""
    code: list[str] = []
    strings: list[str] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "#":
            end = source.find("\n", i)
            i = len(source) if end < 0 else end
        elif ch == "`":
            end = source.index("`", i + 1)
            strings.append(source[i + 1 : end])
            code.append(" ")
            i = end + 1
        elif ch == '"':
            j = i + 1
            while source[j] != '"':
                j += 2 if source[j] == "\\" else 1
            strings.append(json.loads(source[i : j + 1]))
            code.append(" ")
            i = j + 1
        else:
            code.append(ch)
            i += 1
    return "".join(code), strings


def pruned_references(source: str) -> set[str]:
    """Pruned names the module could read: as a field, a key, a path segment, or a variable."""
    code, strings = split_rego(source)
    found = set()
    for name in PRUNED_NAMES - MESH_CONTAINER_KEPT:
        # x.env, or a rule or variable called env (some env in ...).
        as_code = re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", code)
        # x["env"], object.get(x, "env", d), ["spec", "volumes"], "spec.volumes[0]".
        segment = re.compile(rf"(^|[.\[]){re.escape(name)}($|[.\[])")
        # A label or annotation key ("status.sidecar.istio.io/port") is no field path.
        paths = [s for s in strings if "/" not in s]
        if as_code or name in strings or any(segment.search(s) for s in paths):
            found.add(name)
    return found


def test_there_are_policies_to_guard() -> None:
    assert {p.stem for p in POLICIES} >= {
        "lib_k8s",
        "lib_mesh",
        "injection_required",
        "mtls_strict",
        "allowed_namespaces",
    }


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.stem)
def test_no_policy_reads_a_field_the_projection_removes(policy: Path) -> None:
    source = policy.read_text()
    found = pruned_references(source)
    assert not found, (
        f"{policy.name} reads {sorted(found)}, which meshc.policies.projection removes "
        "before any engine evaluates: take the field out of the projection's deny-list"
    )
    # walk() visits every field, pruned ones included.
    assert not re.search(r"\bwalk\s*\(", split_rego(source)[0]), f"{policy.name} walks the input"


@pytest.mark.parametrize(
    "snippet",
    [
        "x := container.resources",
        'x := object.get(container, "livenessProbe", {})',
        'x := container["volumeMounts"]',
        'x := object.get(pod, ["spec", "volumes"], [])',
        "some mount in container.volumeMounts",
        'path := "spec.tolerations[0]"',
        'x := k8s.annotations["kubectl.kubernetes.io/last-applied-configuration"]',
        "some ports in x",
    ],
)
def test_the_guard_sees_each_way_of_reading_a_field(snippet: str) -> None:
    assert pruned_references(f"package p\n\n{snippet}\n")


@pytest.mark.parametrize(
    "snippet",
    [
        "# reads env in a comment only",
        'x := "excludeInboundPorts"',
        "istio_own_ports := 1",
        'x := "sidecar.istio.io/status"',
        'x := concat("", ["runs the command ", y])',
    ],
)
def test_the_guard_ignores_what_is_not_a_read(snippet: str) -> None:
    assert not pruned_references(f"package p\n\n{snippet}\n")


# --- 2. the same violations with and without the projection ------------------

# Values that would be findings if a policy read them: a NET_ADMIN-like
# command, the proxy's UID in env, host paths, a hostPort.
CONTAINER_EXTRAS: dict[str, Any] = {
    "env": [{"name": "RUN_AS", "value": "1337"}, {"name": "CAPS", "value": "NET_ADMIN"}],
    "envFrom": [{"configMapRef": {"name": "cfg"}}],
    "volumeMounts": [{"name": "host", "mountPath": "/host"}],
    "volumeDevices": [{"name": "dev", "devicePath": "/dev/xvda"}],
    "livenessProbe": {"exec": {"command": ["iptables", "-F"]}},
    "readinessProbe": {"httpGet": {"path": "/ready", "port": 15021}},
    "startupProbe": {"tcpSocket": {"port": 15090}},
    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
    "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}],
    "args": ["--uid", "1337", "--privileged"],
    "command": ["iptables", "-t", "nat", "-F"],
    "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
    "ports": [{"containerPort": 15001, "hostPort": 15001}],
    "imagePullPolicy": "Always",
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "workingDir": "/var/run/istio-proxy",
    "stdin": True,
    "stdinOnce": True,
    "tty": True,
}
POD_SPEC_EXTRAS: dict[str, Any] = {
    "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
    "tolerations": [{"operator": "Exists"}],
    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}},
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone"}],
    "imagePullSecrets": [{"name": "registry"}],
    "readinessGates": [{"conditionType": "mesh.io/ready"}],
    "nodeName": "node-1",
    "nodeSelector": {"sidecar.istio.io/inject": "false"},
    "schedulerName": "default-scheduler",
    "schedulingGates": [{"name": "mesh.io/wait"}],
    "priority": 1337,
    "priorityClassName": "system-node-critical",
    "preemptionPolicy": "Never",
    "runtimeClassName": "kata",
    "overhead": {"cpu": "250m"},
    "resourceClaims": [{"name": "gpu"}],
    "terminationGracePeriodSeconds": 1337,
    "activeDeadlineSeconds": 2102,
    "dnsPolicy": "None",
    "dnsConfig": {"nameservers": ["1.1.1.1"]},
    "hostname": "istio-proxy",
    "subdomain": "linkerd-proxy",
    "setHostnameAsFQDN": True,
    "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["istiod.istio-system.svc"]}],
    "enableServiceLinks": True,
    "serviceAccountName": "istio-proxy",
    "serviceAccount": "istio-proxy",
    "automountServiceAccountToken": True,
    "os": {"name": "linux"},
}
OBJECT_EXTRAS: dict[str, Any] = {"status": {"phase": "Running", "hostNetwork": True}}
METADATA_EXTRAS: dict[str, Any] = {
    "managedFields": [{"manager": "argocd", "fieldsV1": {"f:metadata": {"f:labels": {}}}}],
    "uid": "1337",
    "creationTimestamp": "2026-11-26T04:00:00Z",
    "deletionGracePeriodSeconds": 30,
    "resourceVersion": "2102",
    "generation": 1337,
    "selfLink": "/api/v1/namespaces/kube-system/pods/web",
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web"}],
    "finalizers": ["sidecar.istio.io/inject"],
}
REQUEST_EXTRAS: dict[str, Any] = {
    "requestKind": {"group": "security.istio.io", "version": "v1", "kind": "PeerAuthentication"},
    "requestResource": {"group": "", "version": "v1", "resource": "namespaces"},
    "requestSubResource": "status",
    "options": {"kind": "CreateOptions", "dryRun": ["All"], "fieldManager": "istio-proxy"},
}


def test_the_extras_cover_every_pruned_name() -> None:
    assert set(CONTAINER_EXTRAS) == CONTAINER_FIELDS
    assert set(POD_SPEC_EXTRAS) == POD_SPEC_FIELDS
    assert set(OBJECT_EXTRAS) == OBJECT_FIELDS and set(METADATA_EXTRAS) == METADATA_FIELDS
    assert set(REQUEST_EXTRAS) == REQUEST_FIELDS


def container_extras(container: dict[str, Any]) -> dict[str, Any]:
    """What the projection removes from ``container``: a mesh container keeps its command line."""
    if container.get("name") in MESH_CONTAINERS:
        return {k: v for k, v in CONTAINER_EXTRAS.items() if k not in MESH_CONTAINER_KEPT}
    return CONTAINER_EXTRAS


def with_metadata_extras(metadata: Any) -> Any:
    if not isinstance(metadata, dict):
        return metadata
    out = {**metadata, **METADATA_EXTRAS}
    if isinstance(metadata.get("annotations"), dict):
        out["annotations"] = {**metadata["annotations"], LAST_APPLIED: '{"kind":"Pod"}'}
    return out


def with_pod_spec_extras(spec: dict[str, Any]) -> dict[str, Any]:
    out = {**spec, **POD_SPEC_EXTRAS}
    for field in CONTAINER_LISTS:
        if isinstance(spec.get(field), list):
            out[field] = [{**c, **container_extras(c)} for c in spec[field]]
    return out


def with_extras(obj: Any) -> Any:
    """``obj`` carrying every field the projection removes, wherever it removes it."""
    if not isinstance(obj, dict):
        return obj
    obj = {**copy.deepcopy(obj), **OBJECT_EXTRAS}
    obj["metadata"] = with_metadata_extras(obj.get("metadata", {}))
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return obj
    if any(field in spec for field in CONTAINER_LISTS):
        obj["spec"] = with_pod_spec_extras(spec)
    for parent in (
        spec.get("template"),
        spec.get("jobTemplate", {}).get("spec", {}).get("template"),
    ):
        if isinstance(parent, dict) and isinstance(parent.get("spec"), dict):
            parent["metadata"] = with_metadata_extras(parent.get("metadata", {}))
            parent["spec"] = with_pod_spec_extras(parent["spec"])
    return obj


def review_with_extras(review: dict[str, Any]) -> dict[str, Any]:
    request = review["request"]
    return {
        **review,
        "request": {
            **request,
            **REQUEST_EXTRAS,
            "object": with_extras(request.get("object")),
            "oldObject": with_extras(request.get("oldObject")),
        },
    }


def sample_reviews(provider: str) -> list[tuple[str, dict[str, Any]]]:
    samples = [str(p) for p in sample_files() if spec_for(p).stem == provider]
    reviews = []
    for m in load_manifests(samples):
        if m.is_review:
            reviews.append((f"{m.file}:{m.line}", m.obj))
            continue
        for operation in ("CREATE", "UPDATE", "DELETE"):
            reviews.append((f"{m.file}:{m.line} {operation}", admission_review(m.obj, operation)))
    return reviews


def judged(engine: PolicyEngine, review: dict[str, Any]) -> list[str]:
    return [format_message(v) for v in engine.evaluate(review)]


def judged_unprojected(engine: PolicyEngine, review: dict[str, Any]) -> list[str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine_module, "project", lambda review: review)
        assert policy_input(review) is review
        return judged(engine, review)


@pytest.mark.parametrize("provider", providers.names())
def test_every_sample_is_judged_alike_with_and_without_the_projection(
    provider: str, request: pytest.FixtureRequest
) -> None:
    engine: PolicyEngine = request.getfixturevalue(f"{provider}_engine")
    reviews = sample_reviews(provider)
    assert len(reviews) > 30
    denied = 0
    for where, review in reviews:
        full = review_with_extras(review)
        # The extras are exactly what the projection takes away again.
        assert project(full) == project(review), where
        expected = judged_unprojected(engine, review)
        assert judged_unprojected(engine, full) == expected, where
        assert judged(engine, full) == expected, where
        assert judged(engine, review) == expected, where
        denied += bool(expected)
    assert denied > 10  # the corpus judged includes findings, not only clean objects


# --- 3. where it prunes, and what it leaves -----------------------------------


def pod_spec() -> dict[str, Any]:
    return {
        "hostNetwork": True,
        "securityContext": {"runAsUser": 1337},
        "containers": [{"name": "web", "image": "nginx", "securityContext": {"privileged": True}}],
        "initContainers": [{"name": "init", "image": "busybox"}],
        "ephemeralContainers": [{"name": "debug", "image": "busybox"}],
    }


WORKLOADS = {
    "Pod": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod_spec()},
    "Deployment": {
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "replicas": 2,
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": pod_spec()},
        },
    },
    "CronJob": {
        "kind": "CronJob",
        "metadata": {"name": "c"},
        "spec": {
            "schedule": "* * * * *",
            "jobTemplate": {"spec": {"template": {"metadata": {}, "spec": pod_spec()}}},
        },
    },
}


@pytest.mark.parametrize("kind", WORKLOADS)
@pytest.mark.parametrize("field", ["object", "oldObject"])
def test_every_pod_spec_location_is_pruned_and_what_the_policies_read_stays(
    kind: str, field: str
) -> None:
    clean = WORKLOADS[kind]
    review = {
        "request": {"operation": "UPDATE", "userInfo": {"username": "u"}, field: with_extras(clean)}
    }
    projected = project(review)
    assert projected["request"] == {
        "operation": "UPDATE",
        "userInfo": {"username": "u"},
        field: clean,
    }
    assert len(json.dumps(projected)) < len(json.dumps(review)) / 2


def test_only_the_last_applied_annotation_goes() -> None:
    obj = {"metadata": {"annotations": {LAST_APPLIED: "{}", "sidecar.istio.io/inject": "false"}}}
    projected = project({"request": {"object": obj}})
    assert projected["request"]["object"]["metadata"] == {
        "annotations": {"sidecar.istio.io/inject": "false"}
    }


def test_a_review_with_nothing_to_prune_is_returned_as_it_is() -> None:
    review = admission_review(WORKLOADS["Pod"])
    assert project(review) is review


@pytest.mark.parametrize("text", ['{"request": NaN}', '{"request": {"object": Infinity}}', "{x}"])
def test_text_that_is_not_json_never_reaches_an_engine(text: str) -> None:
    with pytest.raises(EngineError, match="not JSON"):
        input_text(policy_input(text))


def test_fields_elsewhere_keep_their_names() -> None:
    # A Service's ports and a ConfigMap key named env are not a pod's.
    service = {"kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    config = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"env": "x", "status": "y"}}
    for obj in (service, config):
        review = {"request": {"object": obj}}
        assert project(review) is review


# --- 4. never raises, never modifies its argument ------------------------------

SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=4,
)


def node(
    children: dict[str, st.SearchStrategy[Any]], pruned: frozenset[str] = frozenset()
) -> st.SearchStrategy[Any]:
    """Mostly a dict of these fields and the pruned ones; sometimes any JSON value instead."""
    extra = {name: JSON for name in pruned - set(children)}
    full = st.fixed_dictionaries(children, optional=extra)
    sparse = st.fixed_dictionaries({}, optional={**extra, **children})
    return st.integers(0, 9).flatmap(lambda i: JSON if i == 0 else sparse if i == 1 else full)


CONTAINERS = JSON | st.lists(
    node({"name": JSON, "securityContext": JSON}, CONTAINER_FIELDS), max_size=3
)
POD_SPEC = {field: CONTAINERS for field in CONTAINER_LISTS}
METADATA = node({"annotations": node({LAST_APPLIED: JSON, "a": JSON})}, METADATA_FIELDS)
TEMPLATE = node({"metadata": METADATA, "spec": node(POD_SPEC, POD_SPEC_FIELDS)})
SPEC = node(
    {**POD_SPEC, "template": TEMPLATE, "jobTemplate": node({"spec": node({"template": TEMPLATE})})},
    POD_SPEC_FIELDS,
)
OBJECT = node({"metadata": METADATA, "spec": SPEC}, OBJECT_FIELDS)
REVIEWS = node({"request": node({"object": OBJECT, "oldObject": OBJECT})})


def removed_keys(before: Any, after: Any) -> set[str]:
    """The dict keys ``after`` lacks; fails if anything else differs."""
    if isinstance(before, dict):
        assert isinstance(after, dict) and set(after) <= set(before)
        removed = set(before) - set(after)
        for key in after:
            removed |= removed_keys(before[key], after[key])
        return removed
    if isinstance(before, list):
        assert isinstance(after, list) and len(after) == len(before)
        return set().union(*(removed_keys(b, a) for b, a in zip(before, after, strict=True)))
    assert after == before and type(after) is type(before)
    return set()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(REVIEWS)
def test_the_projection_never_raises_and_only_removes_pruned_fields(review: Any) -> None:
    before = copy.deepcopy(review)
    projected = project(review)
    assert review == before  # the caller's document is untouched
    assert removed_keys(review, projected) <= PRUNED_NAMES
    assert project(projected) == projected


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_any_json_value_is_accepted(value: Any) -> None:
    assert project(value) == value
    review = {"request": {"object": value, "oldObject": [value]}}
    assert removed_keys(review, project(review)) <= PRUNED_NAMES
