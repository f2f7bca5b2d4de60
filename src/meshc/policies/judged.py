"""What the policies judge: the API server requests the webhook must see.

One list, read by the chart (``meshc.webhook.chart_facts`` writes it into
``charts/meshc/files/facts.yaml`` as the webhook configurations' rules), by
the native admission policies (:mod:`meshc.policies.native`, which match the
same requests) and by ``meshc audit`` (which lists the same kinds from a live
cluster). Narrow on purpose: every request listed costs an admission round
trip (or a CEL evaluation in the API server), and every request not listed is
never judged, so the lists name exactly the kinds the policies read.
"""

from __future__ import annotations

from typing import Any

from meshc import providers

# Workloads carry pods or pod templates: injection, opt-outs, the proxy's UIDs.
# A rule names a subresource only when listed, and these change what a pod
# runs or what its proxy reads at run time: an ephemeral container joins the
# pod's network namespace (kubectl debug --profile=netadmin), and a status
# update writes the pod's annotations, which Linkerd's proxy and the meshes'
# CNI plugins read. (pods/binding, /eviction and /resize change none of that.)
WORKLOADS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("pods", "pods/ephemeralcontainers", "pods/status", "replicationcontrollers")),
    ("apps", ("deployments", "statefulsets", "daemonsets", "replicasets")),
    ("batch", ("jobs", "cronjobs")),
)
# A namespace's labels and annotations can be written through its status and
# finalize subresources too, and the injectors read them.
NAMESPACES = ("namespaces", "namespaces/status", "namespaces/finalize")
SERVICES = ("services",)

Rule = dict[str, Any]


def _rule(group: str, resources: tuple[str, ...], scope: str, versions: str = "*") -> Rule:
    return {
        "apiGroups": [group],
        "apiVersions": ["v1"] if versions == "v1" else ["*"],
        "resources": list(resources),
        "scope": scope,
    }


def judged() -> list[Rule]:
    """What is judged on CREATE and UPDATE outside the exempt namespaces, as admission
    webhook rules: workloads and namespaces."""
    rules = [_rule(group, resources, "Namespaced", "v1") for group, resources in WORKLOADS]
    # Namespaces: injection markers and the allowed namespaces.
    rules.append(_rule("", NAMESPACES, "Cluster", "v1"))
    # Services: the waypoint an ambient Service's traffic goes through (istio.io/use-waypoint).
    rules.append(_rule("", SERVICES, "Namespaced", "v1"))
    return rules


def configuration() -> list[Rule]:
    """The mesh configuration judged on CREATE and UPDATE in every namespace but kube-system
    and the webhook's own: a mesh-wide policy lives in the control plane's namespace
    (Istio's root namespace, istio-system), which is exempt for workloads."""
    rules: list[Rule] = []
    # Mesh configuration of every mesh: whole groups, then single kinds by group.
    groups = providers.mesh_config_groups()
    rules.append({**_rule("", ("*",), "Namespaced"), "apiGroups": list(groups)})
    kinds: dict[str, list[str]] = {}
    for group, _, resource in providers.mesh_config_kinds():
        if group not in groups:
            kinds.setdefault(group, []).append(resource)
    rules += [_rule(group, tuple(resources), "Namespaced") for group, resources in kinds.items()]
    # Cluster-scoped mesh configuration (a Kuma Mesh): mTLS settings, no namespace.
    cluster: dict[str, list[str]] = {}
    for group, _, resource in providers.mesh_cluster_config_kinds():
        cluster.setdefault(group, []).append(resource)
    rules += [_rule(group, tuple(resources), "Cluster") for group, resources in cluster.items()]
    return rules


def deletes() -> list[Rule]:
    """What is judged on DELETE: the security objects meshc renders, nothing else."""
    by_group: dict[str, list[str]] = {}
    for profile in providers.all_profiles():
        for group, _, resource in profile.protected_kinds:
            if resource not in by_group.setdefault(group, []):
                by_group[group].append(resource)
    return [_rule(group, tuple(resources), "Namespaced") for group, resources in by_group.items()]


def stored_resources() -> list[tuple[str, tuple[str, ...]]]:
    """(API group, resources) whose stored objects the policies judge: the rules of
    :func:`judged` and :func:`configuration` without subresources, which are ways to write an object, not objects.
    ``"*"`` stands for every resource of the group."""
    found: list[tuple[str, tuple[str, ...]]] = []
    for rule in judged() + configuration():
        resources = tuple(r for r in rule["resources"] if "/" not in r)
        found += [(group, resources) for group in rule["apiGroups"]]
    return found
