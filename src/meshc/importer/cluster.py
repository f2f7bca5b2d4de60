"""``meshc import --kubeconfig``: the kinds the importer reads, from a live API server.

The cluster is read with ``meshc audit``'s reader (:mod:`meshc.audit.cluster`: kubeconfig
or in-cluster configuration, objects as plain JSON, page by page). What the API server
sets on an object (status, managedFields, resourceVersion, uid, creationTimestamp,
generation, kubectl's last-applied annotation…) is dropped, and the Service fields it
allocates (clusterIP, ipFamilies…) are ones the importer reads as defaults, so each object
reads as its manifest did; objects meshc rendered itself (its managed-by label) are skipped with a line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from meshc import providers
from meshc.audit.cluster import ClusterError, Resource, connect
from meshc.compiler.targets.gatewayapi import GROUP as GATEWAY_API_GROUP
from meshc.exitcodes import UsageError
from meshc.policies.manifests import Manifest

from .draft import Source
from .inventory import WORKLOADS, rendered_by_meshc

SERVER_SET_METADATA = (
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
)
SERVER_SET_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
)
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set on every Namespace by the server
GATEWAY_API_KINDS = ("Gateway", "HTTPRoute", "GRPCRoute", "TLSRoute")


def _wanted() -> dict[str, set[str]]:
    """API group -> the kinds the importer reads."""
    wanted: dict[str, set[str]] = {
        "": {"Namespace", "Service", "Pod", "ReplicationController"},
        "apps": set(WORKLOADS),
        "batch": set(WORKLOADS),
        GATEWAY_API_GROUP: set(GATEWAY_API_KINDS),
    }
    for group, kind, _ in (*providers.mesh_config_kinds(), *providers.mesh_cluster_config_kinds()):
        wanted.setdefault(group, set()).add(kind)
    for group in providers.mesh_config_groups():
        wanted.setdefault(group, {"*"})
    return wanted


def clean(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without what the API server set on it."""
    obj.pop("status", None)
    meta = obj.get("metadata") or {}
    for key in SERVER_SET_METADATA:
        meta.pop(key, None)
    annotations = meta.get("annotations") or {}
    for key in SERVER_SET_ANNOTATIONS:
        annotations.pop(key, None)
    if not annotations:
        meta.pop("annotations", None)
    labels = meta.get("labels") or {}
    if obj.get("kind") == "Namespace":
        labels.pop(NAMESPACE_NAME_LABEL, None)
    if not labels:
        meta.pop("labels", None)
    return obj


def _ref(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    name = f"{meta['namespace']}/{meta.get('name')}" if meta.get("namespace") else meta.get("name")
    return f"{obj.get('kind')} {name}"


def read(kubeconfig: str, namespaces: Sequence[str]) -> tuple[list[Manifest], list[str]]:
    """The objects to import (each named ``cluster: <Kind> <ns>/<name>``) and the lines
    saying what was skipped."""
    manifests: list[Manifest] = []
    skipped: list[str] = []
    try:
        with connect(kubeconfig) as cluster:
            for group, kinds in _wanted().items():
                served = cluster.group_resources(group)
                for resource in served or []:
                    if "*" not in kinds and resource.kind not in kinds:
                        continue
                    for obj in _list(cluster, resource, namespaces):
                        manifest = Manifest(f"cluster: {_ref(obj)}", 0, clean(obj))
                        if rendered_by_meshc(Source(manifest)):
                            skipped.append(
                                f"cluster: {_ref(obj)}: skipped: rendered by meshc "
                                "(its managed-by label)"
                            )
                            continue
                        manifests.append(manifest)
    except ClusterError as exc:
        raise UsageError(str(exc)) from None
    return manifests, skipped


def _list(cluster: Any, resource: Resource, namespaces: Sequence[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if resource.namespaced and namespaces:
        for ns in namespaces:
            for page in cluster.list_objects(resource, ns):
                out += page
    else:
        for page in cluster.list_objects(resource):
            out += page
        if namespaces and resource.kind == "Namespace":
            out = [o for o in out if (o.get("metadata") or {}).get("name") in namespaces]
    return out
