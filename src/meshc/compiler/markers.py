"""The labels and annotations that put a namespace into the mesh.

The renderer writes them on every meshed Namespace and the mutating webhook
adds them at admission: both read them from here, so an object meshc rendered
never gets a patch (and Argo CD never sees drift).
"""

from __future__ import annotations

from typing import TypedDict

ISTIO_INJECTION_LABEL = "istio-injection"
LINKERD_INJECT_ANNOTATION = "linkerd.io/inject"
LINKERD_INBOUND_POLICY_ANNOTATION = "config.linkerd.io/default-inbound-policy"
# STRICT on Linkerd: only meshed, mTLS-authenticated clients may connect;
# Linkerd's own default, all-unauthenticated, also accepts plaintext from
# unmeshed pods. cluster-authenticated requires mTLS too but also limits
# sources to the cluster networks, which turns away multicluster gateways;
# mTLS is the property STRICT promises, so all-authenticated is the match.
LINKERD_STRICT_INBOUND_POLICY = "all-authenticated"


class Markers(TypedDict):
    labels: dict[str, str]
    annotations: dict[str, str]


def namespace_markers(provider: str, mtls: str) -> Markers:
    if provider == "istio":
        return {"labels": {ISTIO_INJECTION_LABEL: "enabled"}, "annotations": {}}
    if provider == "linkerd":
        annotations = {LINKERD_INJECT_ANNOTATION: "enabled"}
        if mtls == "STRICT":
            annotations[LINKERD_INBOUND_POLICY_ANNOTATION] = LINKERD_STRICT_INBOUND_POLICY
        return {"labels": {}, "annotations": annotations}
    raise ValueError(f"unknown provider {provider!r}")
