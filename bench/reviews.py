"""Typical Pod CREATE AdmissionReviews, as the API server sends them to a validating webhook.

A Deployment's pod created by the ReplicaSet controller in a meshed
namespace, after Istio's injector has added its init and proxy containers:
generated name, owner reference, managed fields, service-account volume.
Each review has its own uid and pod name, so nothing can be cached.
"""

from __future__ import annotations

import json
import random
import string
import uuid
from typing import Any

PROXY_IMAGE = "docker.io/istio/proxyv2:1.24.2"


def _suffix(rng: random.Random, n: int = 5) -> str:
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def pod(rng: random.Random, namespace: str = "mesh-demo") -> dict[str, Any]:
    name = f"web-v1-7d9c8f6b5-{_suffix(rng)}"
    token = {
        "name": "kube-api-access-" + _suffix(rng),
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        "readOnly": True,
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "generateName": "web-v1-7d9c8f6b5-",
            "namespace": namespace,
            "uid": str(uuid.UUID(int=rng.getrandbits(128))),
            "creationTimestamp": "2026-11-26T04:00:00Z",
            "labels": {
                "app": "web",
                "version": "v1",
                "pod-template-hash": "7d9c8f6b5",
                "security.istio.io/tlsMode": "istio",
                "service.istio.io/canonical-name": "web",
                "service.istio.io/canonical-revision": "v1",
            },
            "annotations": {
                "istio.io/rev": "default",
                "kubectl.kubernetes.io/default-container": "web",
                "prometheus.io/port": "15020",
                "prometheus.io/scrape": "true",
                "sidecar.istio.io/status": '{"initContainers":["istio-init"],"containers":["istio-proxy"]}',
            },
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web-v1-7d9c8f6b5",
                    "uid": "3f0b8e7c-1d2a-4c5b-9e8f-7a6b5c4d3e2f",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": [
                {
                    "manager": "kube-controller-manager",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2026-11-26T04:00:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:metadata": {
                            "f:generateName": {},
                            "f:labels": {".": {}, "f:app": {}},
                            "f:ownerReferences": {},
                        },
                        "f:spec": {"f:containers": {}, "f:restartPolicy": {}},
                    },
                }
            ],
        },
        "spec": {
            "serviceAccountName": "web",
            "securityContext": {"runAsNonRoot": True, "fsGroup": 1337},
            "initContainers": [
                {
                    "name": "istio-init",
                    "image": PROXY_IMAGE,
                    "args": [
                        "istio-iptables",
                        "-p",
                        "15001",
                        "-z",
                        "15006",
                        "-u",
                        "1337",
                        "-m",
                        "REDIRECT",
                        "-i",
                        "*",
                        "-x",
                        "",
                        "-b",
                        "*",
                        "-d",
                        "15090,15021,15020",
                        "--log_output_level=default:info",
                    ],
                    "securityContext": {
                        "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
                        "runAsUser": 0,
                        "runAsNonRoot": False,
                    },
                }
            ],
            "containers": [
                {
                    "name": "web",
                    "image": "hashicorp/http-echo:1.0",
                    "args": ["-text=Hello from v1"],
                    "ports": [{"containerPort": 5678, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}},
                    "securityContext": {"runAsUser": 1000, "allowPrivilegeEscalation": False},
                    "volumeMounts": [token],
                },
                {
                    "name": "istio-proxy",
                    "image": PROXY_IMAGE,
                    "args": [
                        "proxy",
                        "sidecar",
                        "--domain",
                        f"{namespace}.svc.cluster.local",
                        "--proxyLogLevel=warning",
                        "--proxyComponentLogLevel=misc:error",
                        "--log_output_level=default:info",
                    ],
                    "ports": [
                        {"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}
                    ],
                    "env": [
                        {
                            "name": "POD_NAME",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                        },
                        {
                            "name": "POD_NAMESPACE",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                        },
                        {"name": "ISTIO_META_WORKLOAD_NAME", "value": "web-v1"},
                        {"name": "ISTIO_META_MESH_ID", "value": "cluster.local"},
                    ],
                    "readinessProbe": {
                        "httpGet": {"path": "/healthz/ready", "port": 15021},
                        "periodSeconds": 15,
                    },
                    "securityContext": {
                        "runAsUser": 1337,
                        "runAsGroup": 1337,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [
                        token,
                        {"name": "istio-envoy", "mountPath": "/etc/istio/proxy"},
                    ],
                },
            ],
            "volumes": [
                {"name": "istio-envoy", "emptyDir": {"medium": "Memory"}},
                {
                    "name": token["name"],
                    "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]},
                },
            ],
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
            "terminationGracePeriodSeconds": 30,
        },
    }


def pod_create(rng: random.Random) -> dict[str, Any]:
    obj = pod(rng)
    gvk = {"group": "", "version": "v1", "kind": "Pod"}
    gvr = {"group": "", "version": "v1", "resource": "pods"}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.UUID(int=rng.getrandbits(128))),
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": {
                "username": "system:serviceaccount:kube-system:replicaset-controller",
                "uid": "a1b2c3d4-0000-4000-8000-000000000001",
                "groups": [
                    "system:serviceaccounts",
                    "system:serviceaccounts:kube-system",
                    "system:authenticated",
                ],
            },
            "object": obj,
            "oldObject": None,
            "dryRun": False,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
        },
    }


def pod_create_bodies(n: int = 256, seed: int = 1) -> list[bytes]:
    """``n`` distinct encoded Pod CREATE reviews; the seed makes a run reproducible."""
    rng = random.Random(seed)
    return [json.dumps(pod_create(rng)).encode() for _ in range(n)]
