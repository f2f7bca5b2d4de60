"""The AdmissionReview cut down to what the policies can read, before any engine sees it.

An engine's cost grows with the size of its input: rego-cpp turns the whole
review into its own tree, a few microseconds per value, before evaluating
anything. What the API server sends is mostly fields no policy reads: the
request's echoes of its kind and options, server bookkeeping in metadata,
status, and in every pod spec the volumes, scheduling and DNS settings and,
per container, the environment, probes, mounts, resources and command line.
:func:`project` removes those and keeps everything else. The request's uid
and userInfo stay, though no policy reads them: they tie an OPA server's
decision log to the API server's audit log.

It is a deny-list on purpose: a field not named here still reaches the
policies, so a new policy reading a field nobody thought of works unchanged.
tests/policies/test_projection.py fails when a policy names a pruned field,
so pruning can never change a decision silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from meshc import providers

# The request's restatements of what it is about (kind and resource as the
# client asked for them) and its options; the policies read request.kind.
REQUEST_FIELDS = frozenset({"requestKind", "requestResource", "requestSubResource", "options"})
# Server bookkeeping on any object: no policy judges it.
METADATA_FIELDS = frozenset(
    {
        "managedFields",
        "uid",
        "creationTimestamp",
        "deletionGracePeriodSeconds",
        "resourceVersion",
        "generation",
        "selfLink",
        "ownerReferences",
        "finalizers",
    }
)
# Client-side `kubectl apply` (and Argo CD's default sync) stores the whole
# manifest again in this annotation; the policies look annotations up by key
# and never by this one.
ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})
OBJECT_FIELDS = frozenset({"status"})

# In a pod spec: the policies read hostNetwork, securityContext and the
# container lists, nothing about storage, scheduling, DNS or identity.
POD_SPEC_FIELDS = frozenset(
    {
        "volumes",
        "tolerations",
        "affinity",
        "topologySpreadConstraints",
        "imagePullSecrets",
        "readinessGates",
        "nodeName",
        "nodeSelector",
        "schedulerName",
        "schedulingGates",
        "priority",
        "priorityClassName",
        "preemptionPolicy",
        "runtimeClassName",
        "overhead",
        "resourceClaims",
        "terminationGracePeriodSeconds",
        "activeDeadlineSeconds",
        "dnsPolicy",
        "dnsConfig",
        "hostname",
        "subdomain",
        "setHostnameAsFQDN",
        "hostAliases",
        "enableServiceLinks",
        "serviceAccountName",
        "serviceAccount",
        "automountServiceAccountToken",
        "os",
    }
)
# In a container: the policies read name, image, securityContext and
# restartPolicy (a native sidecar is an init container with Always) only;
# in the mesh's own containers also what sets up the proxy and its capture
# (MESH_CONTAINER_KEPT).
CONTAINER_FIELDS = frozenset(
    {
        "env",
        "envFrom",
        "volumeMounts",
        "volumeDevices",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "resources",
        "resizePolicy",
        "args",
        "command",
        "lifecycle",
        "ports",
        "imagePullPolicy",
        "terminationMessagePath",
        "terminationMessagePolicy",
        "workingDir",
        "stdin",
        "stdinOnce",
        "tty",
    }
)
MESH_CONTAINER_KEPT = frozenset({"args", "command", "env"})
MESH_CONTAINER_FIELDS = CONTAINER_FIELDS - MESH_CONTAINER_KEPT
# The names every mesh's injector gives the containers it adds.
MESH_CONTAINERS = frozenset(name for p in providers.all_profiles() for name in p.mesh_containers)
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")

# Where a pod spec sits under an object's `spec`: a Pod's own spec, a
# workload's template, a CronJob's job template. Looked up by shape, not by
# kind: the names pruned there are read by no policy on any kind.
POD_SPEC_PATHS: tuple[tuple[str, ...], ...] = (
    (),
    ("template", "spec"),
    ("jobTemplate", "spec", "template", "spec"),
)
# Where pod-template metadata sits under `spec` (its annotations may hold a
# last-applied copy too when a template is generated from one).
TEMPLATE_METADATA_PATHS: tuple[tuple[str, ...], ...] = (
    ("template", "metadata"),
    ("jobTemplate", "spec", "template", "metadata"),
)

# Every name the projection removes, for the test that keeps the policies
# from reading any of them.
# (args, command and env stay in the mesh's own containers: the policies read
# them there only.)
PRUNED_NAMES = (
    REQUEST_FIELDS
    | METADATA_FIELDS
    | ANNOTATIONS
    | OBJECT_FIELDS
    | POD_SPEC_FIELDS
    | CONTAINER_FIELDS
)


def project(review: Any) -> Any:
    """``review`` without the fields no policy reads, or ``review`` itself when none are there.

    Copy-on-write: the argument is never modified, and only the dicts on the
    way to a removed field are copied. Anything of an unexpected type (a
    list where a dict belongs, a string container) is left as it is, so
    malformed input reaches the policies exactly as sent.
    """
    if not isinstance(review, dict):
        return review
    request = review.get("request")
    if not isinstance(request, dict):
        return review
    changes = {}
    for field in ("object", "oldObject"):
        obj = request.get(field)
        if isinstance(obj, dict):
            projected = _object(obj)
            if projected is not obj:
                changes[field] = projected
    projected = _replace(request, changes, REQUEST_FIELDS)
    if projected is request:
        return review
    return {**review, "request": projected}


def _object(obj: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        projected = _metadata(metadata)
        if projected is not metadata:
            changes["metadata"] = projected
    spec = obj.get("spec")
    if isinstance(spec, dict):
        projected = _spec(spec)
        if projected is not spec:
            changes["spec"] = projected
    return _replace(obj, changes, OBJECT_FIELDS)


def _metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict):
        projected = _without(annotations, ANNOTATIONS)
        if projected is not annotations:
            changes["annotations"] = projected
    return _replace(metadata, changes, METADATA_FIELDS)


def _spec(spec: dict[str, Any]) -> dict[str, Any]:
    for path in TEMPLATE_METADATA_PATHS:
        spec = _update(spec, path, _metadata)
    for path in POD_SPEC_PATHS:
        spec = _update(spec, path, _pod_spec)
    return spec


def _pod_spec(spec: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for field in CONTAINER_LISTS:
        containers = spec.get(field)
        if isinstance(containers, list):
            projected = [_container(c) if isinstance(c, dict) else c for c in containers]
            if any(p is not c for p, c in zip(projected, containers, strict=True)):
                changes[field] = projected
    return _replace(spec, changes, POD_SPEC_FIELDS)


def _container(container: dict[str, Any]) -> dict[str, Any]:
    name = container.get("name")
    mesh = isinstance(name, str) and name in MESH_CONTAINERS
    return _without(container, MESH_CONTAINER_FIELDS if mesh else CONTAINER_FIELDS)


def _update(
    doc: dict[str, Any], path: tuple[str, ...], change: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    """``doc`` with ``change`` applied to the dict at ``path``; ``doc`` itself when there is none."""
    if not path:
        return change(doc)
    child = doc.get(path[0])
    if not isinstance(child, dict):
        return doc
    projected = _update(child, path[1:], change)
    if projected is child:
        return doc
    return {**doc, path[0]: projected}


def _replace(doc: dict[str, Any], changes: dict[str, Any], drop: frozenset[str]) -> dict[str, Any]:
    if not changes and drop.isdisjoint(doc):
        return doc
    return {k: changes.get(k, v) for k, v in doc.items() if k not in drop}


def _without(doc: dict[str, Any], drop: frozenset[str]) -> dict[str, Any]:
    if drop.isdisjoint(doc):
        return doc
    return {k: v for k, v in doc.items() if k not in drop}
