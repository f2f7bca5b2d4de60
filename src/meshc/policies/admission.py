"""AdmissionReview requests for objects that are not (yet) in a cluster.

``meshc check`` judges each manifest as the API server would send it to the
webhook, so the policies see one input shape everywhere.
"""

from __future__ import annotations

from typing import Any, Literal

Operation = Literal["CREATE", "UPDATE", "DELETE"]
OPERATIONS: tuple[Operation, ...] = ("CREATE", "UPDATE", "DELETE")

# Kinds without a namespace; everything else lands in "default" when the
# manifest names none, as `kubectl apply` does without -n.
CLUSTER_SCOPED = frozenset(
    {
        "APIService",
        "ClusterRole",
        "ClusterRoleBinding",
        "CSIDriver",
        "CustomResourceDefinition",
        "GatewayClass",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)

USERNAME = "meshc-check"
# Marks a review as judged offline, before any mutating webhook (the mesh's
# injector) ran: the policies then judge a Pod by what it asks for, as they
# judge a template. The API server never sends this field, and the webhook
# drops it from what it receives.
OFFLINE = "meshc.io/offline"


def cluster_scoped(kind: str) -> bool:
    """Whether objects of ``kind`` have no namespace (the built-in kinds, and the
    ``Cluster*`` kinds of CRDs by the convention their authors follow)."""
    return kind in CLUSTER_SCOPED or kind.startswith("Cluster")


def admission_review(
    obj: dict[str, Any],
    operation: Operation = "CREATE",
    uid: str = "",
    *,
    offline: bool = True,
    username: str = USERNAME,
    default_namespace: str = "default",
) -> dict[str, Any]:
    """An admission.k8s.io/v1 AdmissionReview asking to ``operation`` ``obj``.

    ``offline`` (the default) marks a review of a manifest that has met no
    injector; ``meshc audit`` judges objects read from a cluster, which are
    what the cluster runs, and passes ``offline=False``. An object without a
    namespace is placed in ``default_namespace``, as ``kubectl apply -n`` would.
    """
    group, _, version = str(obj["apiVersion"]).rpartition("/")
    kind = str(obj["kind"])
    metadata = obj.get("metadata") or {}
    namespace = "" if cluster_scoped(kind) else str(metadata.get("namespace") or default_namespace)
    if namespace and metadata.get("namespace") != namespace:
        obj = {**obj, "metadata": {**metadata, "namespace": namespace}}
    request: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": group, "version": version, "kind": kind},
        "name": str(metadata.get("name", "")),
        "namespace": namespace,
        "operation": operation,
        "userInfo": {"username": username},
        "object": None if operation == "DELETE" else obj,
        "oldObject": obj if operation in ("UPDATE", "DELETE") else None,
        "dryRun": True,
    }
    if offline:
        request[OFFLINE] = True
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
