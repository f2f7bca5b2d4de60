"""AdmissionReviews shaped like the kube-apiserver's, and the objects they carry.

Field for field what a v1 API server sends a webhook: server-set metadata
(uid, creationTimestamp, managedFields), the requesting user, request
kind/resource, and the operation's options. Objects are plain manifests of
every workload kind whose pod template the policies read.
"""

from __future__ import annotations

import copy
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from meshc import providers

RESOURCES = {
    ("", "Pod"): "pods",
    ("", "ReplicationController"): "replicationcontrollers",
    ("", "Namespace"): "namespaces",
    ("apps", "Deployment"): "deployments",
    ("apps", "StatefulSet"): "statefulsets",
    ("apps", "DaemonSet"): "daemonsets",
    ("apps", "ReplicaSet"): "replicasets",
    ("batch", "Job"): "jobs",
    ("batch", "CronJob"): "cronjobs",
    ("security.istio.io", "PeerAuthentication"): "peerauthentications",
    ("security.istio.io", "AuthorizationPolicy"): "authorizationpolicies",
    ("networking.istio.io", "DestinationRule"): "destinationrules",
    ("policy.linkerd.io", "Server"): "servers",
}
OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}
ARGOCD = {
    "username": "system:serviceaccount:argocd:argocd-application-controller",
    "uid": "6c2b7a3e-0d59-4b8e-9d2b-2f1f1c5a9e11",
    "groups": ["system:serviceaccounts", "system:serviceaccounts:argocd", "system:authenticated"],
}

# Where each workload kind keeps its pod template.
TEMPLATE_PATH = {
    "Pod": (),
    "ReplicationController": ("spec", "template"),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
API_VERSION = {
    "Pod": "v1",
    "ReplicationController": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}
WORKLOAD_KINDS = tuple(TEMPLATE_PATH)


def pod_spec(**container: Any) -> dict[str, Any]:
    return {
        "containers": [
            {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}], **container}
        ],
        "restartPolicy": "Always",
    }


# The namespaces the sample meshes (tests/policies/samples/specs) inject into.
INJECTED_NAMESPACES = {"mesh-demo": "istio", "l5d-demo": "linkerd", "kuma-demo": "kuma"}
_INJECTED_SAMPLES = (
    Path(__file__).resolve().parents[1] / "policies" / "samples" / ("injection-required/allowed")
)


@cache
def _injection(provider: str) -> dict[str, Any]:
    """What the provider's injector adds to a pod (native sidecars), from its sample."""
    path = _INJECTED_SAMPLES / f"{provider}-injected-native-sidecar.yaml"
    pod = yaml.safe_load(path.read_text())["request"]["object"]
    meta = pod["metadata"]
    added = {"pod-template-hash", "app"}
    return {
        "labels": {k: v for k, v in meta.get("labels", {}).items() if k not in added},
        "annotations": {
            k: v
            for k, v in meta.get("annotations", {}).items()
            if not k.startswith("kubectl.kubernetes.io/")
        },
        # Without the service account's token mount, which the API server adds itself.
        "initContainers": [
            {
                **c,
                "volumeMounts": [
                    m
                    for m in c.get("volumeMounts", [])
                    if not m["name"].startswith("kube-api-access-")
                ],
            }
            for c in pod["spec"]["initContainers"]
            if c["name"] in providers.get(provider).mesh_containers
        ],
        "volumes": [
            v
            for v in pod["spec"].get("volumes", [])
            if not v["name"].startswith("kube-api-access-")
        ],
    }


def inject(pod: dict[str, Any], provider: str) -> dict[str, Any]:
    """``pod`` as the provider's injector leaves it: its init container and native sidecar
    first, its labels and annotations added (what the pod sets wins)."""
    added = copy.deepcopy(_injection(provider))
    meta = pod.setdefault("metadata", {})
    meta["labels"] = {**added["labels"], **(meta.get("labels") or {})}
    meta["annotations"] = {**added["annotations"], **(meta.get("annotations") or {})}
    pod["spec"]["initContainers"] = added["initContainers"] + pod["spec"].get("initContainers", [])
    pod["spec"]["volumes"] = pod["spec"].get("volumes", []) + added["volumes"]
    return pod


def workload(
    kind: str,
    name: str = "web",
    namespace: str = "mesh-demo",
    pod_annotations: dict[str, str] | None = None,
    injected: bool | None = None,
    **container: Any,
) -> dict[str, Any]:
    """A ``kind`` whose pod (template) runs one container, with optional pod annotations.

    A Pod in one of the sample meshes' namespaces is as it reaches a validating
    webhook, after the mesh's injector ran (``injected=False`` for one it never
    reached); templates are never injected.
    """
    pod: dict[str, Any] = {"metadata": {"labels": {"app": name}}, "spec": pod_spec(**container)}
    if pod_annotations:
        pod["metadata"]["annotations"] = dict(pod_annotations)
    provider = INJECTED_NAMESPACES.get(namespace)
    if kind == "Pod" and provider and (injected is None or injected):
        inject(pod, provider)
    obj: dict[str, Any] = {
        "apiVersion": API_VERSION[kind],
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
    }
    path = TEMPLATE_PATH[kind]
    if not path:
        obj["metadata"]["labels"] = pod["metadata"]["labels"]
        if pod["metadata"].get("annotations"):
            obj["metadata"]["annotations"] = pod["metadata"]["annotations"]
        obj["spec"] = pod["spec"]
        return obj
    spec: dict[str, Any] = {}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"):
        spec["selector"] = (
            {"app": name} if kind == "ReplicationController" else {"matchLabels": {"app": name}}
        )
    if kind == "CronJob":
        spec["schedule"] = "*/5 * * * *"
        pod["spec"]["restartPolicy"] = "OnFailure"
        spec["jobTemplate"] = {"spec": {"template": pod}}
    else:
        if kind == "Job":
            pod["spec"]["restartPolicy"] = "Never"
        spec["template"] = pod
    obj["spec"] = spec
    return obj


def namespace(
    name: str, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "labels": {"kubernetes.io/metadata.name": name, **(labels or {})},
    }
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta,
        "spec": {"finalizers": ["kubernetes"]},
    }


def peer_authentication(
    mode: str, namespace: str = "mesh-demo", managed: str = ""
) -> dict[str, Any]:
    """A PeerAuthentication ``default``; with ``managed``, as meshc renders it for that mesh."""
    meta: dict[str, Any] = {"name": "default", "namespace": namespace}
    if managed:
        meta["labels"] = {"app.kubernetes.io/managed-by": "meshc", "meshc.io/mesh": managed}
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": meta,
        "spec": {"mtls": {"mode": mode}},
    }


def linkerd_policy_server(namespace: str = "mesh-demo") -> dict[str, Any]:
    return {
        "apiVersion": "policy.linkerd.io/v1beta3",
        "kind": "Server",
        "metadata": {"name": "web-http", "namespace": namespace},
        "spec": {
            "podSelector": {"matchLabels": {"app": "web"}},
            "port": "http",
            "proxyProtocol": "HTTP/1",
        },
    }


def _as_stored(obj: dict[str, Any]) -> dict[str, Any]:
    """The object with the metadata the API server has set by admission time."""
    stored = copy.deepcopy(obj)
    meta = stored.setdefault("metadata", {})
    meta.setdefault("uid", str(uuid.uuid4()))
    meta.setdefault("creationTimestamp", "2026-11-26T04:00:00Z")
    meta.setdefault("generation", 1)
    meta["managedFields"] = [
        {
            "manager": "argocd-controller",
            "operation": "Apply",
            "apiVersion": stored.get("apiVersion", "v1"),
            "time": "2026-11-26T04:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {}}, "f:spec": {}},
        }
    ]
    return stored


def review(
    obj: dict[str, Any],
    operation: str = "CREATE",
    *,
    old: dict[str, Any] | None = None,
    dry_run: bool = False,
    uid: str | None = None,
) -> dict[str, Any]:
    """The AdmissionReview an API server sends for ``operation`` on ``obj``.

    DELETE carries the object in ``oldObject`` only; UPDATE carries ``old``
    (default: ``obj`` itself) as ``oldObject``.
    """
    api_version = obj["apiVersion"]
    group, _, version = api_version.rpartition("/")
    kind = obj["kind"]
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": RESOURCES[(group, kind)]}
    meta = obj.get("metadata", {})
    stored = _as_stored(obj)
    request: dict[str, Any] = {
        "uid": uid or str(uuid.uuid4()),
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": meta.get("name", ""),
        "operation": operation,
        "userInfo": ARGOCD,
        "object": None,
        "oldObject": None,
        "dryRun": dry_run,
        "options": {
            "kind": OPTIONS_KIND.get(operation, "CreateOptions"),
            "apiVersion": "meta.k8s.io/v1",
        },
    }
    if kind != "Namespace":
        request["namespace"] = meta.get("namespace", "default")
    if operation == "DELETE":
        request["oldObject"] = stored
        request["options"]["propagationPolicy"] = "Background"
    else:
        request["object"] = stored
        request["options"]["fieldManager"] = "argocd-controller"
        if operation == "UPDATE":
            request["oldObject"] = _as_stored(old if old is not None else obj)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
