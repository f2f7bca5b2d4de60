"""What each policy decides, case by case, through the embedded engine."""

from __future__ import annotations

from typing import Any

import pytest
from policy_reviews import istio_proxy, pod, review

from meshc.policies.engine import PolicyEngine
from meshc.policies.violations import format_message


def paths(engine: PolicyEngine, obj: dict[str, Any], operation: str = "CREATE") -> list[str]:
    return [v.path for v in engine.evaluate(review(obj, operation))]


@pytest.mark.parametrize("value", ["false", "False", "no", "off", "0", "disabled", "enabled", ""])
def test_istio_values_any_supported_release_reads_as_opt_out_are_denied(
    istio_engine: PolicyEngine, value: str
) -> None:
    found = istio_engine.evaluate(review(pod(labels={"sidecar.istio.io/inject": value})))
    assert [v.path for v in found] == ['metadata.labels["sidecar.istio.io/inject"]']
    assert found[0].problem.endswith(f'"{value}"')


@pytest.mark.parametrize("value", ["true", "True", "TRUE", "yes", "y", "on"])
def test_istio_values_every_release_injects_are_admitted(
    istio_engine: PolicyEngine, value: str
) -> None:
    assert paths(istio_engine, pod(annotations={"sidecar.istio.io/inject": value})) == []


def test_the_label_wins_over_the_deprecated_annotation(istio_engine: PolicyEngine) -> None:
    opt_out_label = pod(
        labels={"sidecar.istio.io/inject": "false"}, annotations={"sidecar.istio.io/inject": "true"}
    )
    assert paths(istio_engine, opt_out_label) == ['metadata.labels["sidecar.istio.io/inject"]']


def test_the_message_names_object_path_value_and_fix(istio_engine: PolicyEngine) -> None:
    (v,) = istio_engine.evaluate(review(pod(labels={"sidecar.istio.io/inject": "false"})))
    assert format_message(v) == (
        '[meshc:injection-required] Pod mesh-demo/web: metadata.labels["sidecar.istio.io/inject"]: '
        'opts the pod out of sidecar injection: "false"; '
        'remove it or set it to "true": every pod in a meshed namespace runs the sidecar; '
        "or, to admit it, add to spec.admission.exceptions: {name: web-injection-required, "
        "policies: [injection-required], namespaces: [mesh-demo], kinds: [Pod], names: [web], "
        """paths: ['metadata.labels["sidecar.istio.io/inject"]'], reason: <why>}"""
    )
    assert v.source.endswith("policies/samples/specs/istio.yaml:spec.namespaces")


def test_the_proxy_uid_is_admitted_only_for_the_configured_proxy_image(
    istio_engine: PolicyEngine,
) -> None:
    app = {"name": "web", "image": "hashicorp/http-echo:1.0"}
    genuine = pod(containers=[app, istio_proxy("istio/proxyv2:1.24.2")])
    digest = pod(containers=[app, istio_proxy("gcr.io/istio-release/proxyv2@sha256:" + "a" * 64)])
    lookalike = pod(containers=[app, istio_proxy("docker.io/istio/proxyv2-debug:1.24.2")])
    assert paths(istio_engine, genuine) == []
    assert paths(istio_engine, digest) == []
    assert paths(istio_engine, lookalike) == [
        "spec.containers[1].image",
        "spec.containers[1].securityContext.runAsUser",
    ]


def test_cni_exclusions_are_admitted_only_for_the_proxys_own_ports(
    istio_engine: PolicyEngine,
) -> None:
    containers = [{"name": "web", "image": "hashicorp/http-echo:1.0"}, istio_proxy()]
    own = pod(
        annotations={"traffic.sidecar.istio.io/excludeInboundPorts": "15020, 15021,15090"},
        containers=containers,
    )
    more = pod(
        annotations={"traffic.sidecar.istio.io/excludeInboundPorts": "15020,8080"},
        containers=containers,
    )
    assert paths(istio_engine, own) == []
    assert paths(istio_engine, more) == [
        'metadata.annotations["traffic.sidecar.istio.io/excludeInboundPorts"]'
    ]


def test_capture_lists_narrower_than_everything_are_bypasses(istio_engine: PolicyEngine) -> None:
    everything = pod(annotations={"traffic.sidecar.istio.io/includeOutboundIPRanges": "*"})
    narrow = pod(annotations={"traffic.sidecar.istio.io/includeOutboundIPRanges": "10.0.0.0/8"})
    assert paths(istio_engine, everything) == []
    assert paths(istio_engine, narrow) == [
        'metadata.annotations["traffic.sidecar.istio.io/includeOutboundIPRanges"]'
    ]


def test_exemptions_grant_their_annotations_to_matching_pods_only(
    istio_engine: PolicyEngine,
) -> None:
    annotation = {"traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.20.0.0/16"}
    other = {"traffic.sidecar.istio.io/excludeOutboundPorts": "5432"}
    assert paths(istio_engine, pod(labels={"app": "legacy"}, annotations=annotation)) == []
    assert len(paths(istio_engine, pod(labels={"app": "legacy"}, annotations=other))) == 1
    assert len(paths(istio_engine, pod(labels={"app": "web"}, annotations=annotation))) == 1


@pytest.mark.parametrize(
    "capability", ["NET_ADMIN", "CAP_NET_ADMIN", "NET_RAW", "CAP_NET_RAW", "ALL", "net_admin"]
)
def test_application_containers_may_not_add_net_admin_or_net_raw(
    istio_engine: PolicyEngine, capability: str
) -> None:
    init = {
        "name": "setup",
        "image": "busybox",
        "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE", capability]}},
    }
    assert paths(istio_engine, pod(init_containers=[init])) == [
        "spec.initContainers[0].securityContext.capabilities.add[1]"
    ]


@pytest.mark.parametrize("capability", ["SYS_ADMIN", "SYS_PTRACE", "CAP_SYS_ADMIN"])
def test_host_pid_with_a_capability_that_enters_namespaces_is_denied_and_either_alone_is_not(
    istio_engine: PolicyEngine, capability: str
) -> None:
    app = {"name": "web", "image": "x", "securityContext": {"capabilities": {"add": [capability]}}}
    assert paths(istio_engine, pod(hostPID=True, containers=[app])) == [
        "spec.containers[0].securityContext.capabilities.add[0]"
    ]
    assert paths(istio_engine, pod(containers=[app])) == []
    plain = {"name": "web", "image": "x"}
    assert paths(istio_engine, pod(hostPID=True, containers=[plain])) == []


def test_a_container_uid_overrides_the_pods(istio_engine: PolicyEngine) -> None:
    overridden = pod(
        securityContext={"runAsUser": 1337},
        containers=[{"name": "web", "image": "x", "securityContext": {"runAsUser": 1000}}],
    )
    assert paths(istio_engine, overridden) == []


def test_exempt_and_unmeshed_namespaces_are_not_judged_for_injection(
    istio_engine: PolicyEngine,
) -> None:
    for namespace in ("kube-system", "team-b"):
        assert paths(istio_engine, pod(namespace=namespace, hostNetwork=True)) == []


def test_deleting_a_bad_pod_is_never_blocked(istio_engine: PolicyEngine) -> None:
    assert paths(istio_engine, pod(hostNetwork=True), "DELETE") == []


def test_updates_are_judged_like_creates(istio_engine: PolicyEngine) -> None:
    assert paths(istio_engine, pod(hostNetwork=True), "UPDATE") == ["spec.hostNetwork"]


def test_linkerd_injection_values(linkerd_engine: PolicyEngine) -> None:
    def verdict(value: str) -> list[str]:
        return paths(
            linkerd_engine, pod(namespace="l5d-demo", annotations={"linkerd.io/inject": value})
        )

    assert verdict("enabled") == verdict("ingress") == []
    assert (
        verdict("disabled") == verdict("Enabled") == ['metadata.annotations["linkerd.io/inject"]']
    )


def test_istio_keys_mean_nothing_to_a_linkerd_mesh(linkerd_engine: PolicyEngine) -> None:
    assert (
        paths(
            linkerd_engine, pod(namespace="l5d-demo", labels={"sidecar.istio.io/inject": "false"})
        )
        == []
    )


def _peer_authentication(spec: dict[str, Any], namespace: str = "mesh-demo") -> dict[str, Any]:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": spec,
    }


def test_port_level_mtls_must_say_strict(istio_engine: PolicyEngine) -> None:
    unset = _peer_authentication({"mtls": {"mode": "STRICT"}, "portLevelMtls": {"8080": {}}})
    assert paths(istio_engine, unset) == ['spec.portLevelMtls["8080"].mode']


def test_a_permissive_spec_still_denies_disable(istio_data: dict[str, Any]) -> None:
    from meshc.policies.engine import create_engine

    engine = create_engine("embedded", {**istio_data, "mtls": "PERMISSIVE"})
    assert paths(engine, _peer_authentication({"mtls": {"mode": "PERMISSIVE"}})) == []
    assert paths(engine, _peer_authentication({"mtls": {"mode": "DISABLE"}})) == ["spec.mtls.mode"]


def test_authorization_sources_outside_the_allowed_namespaces(istio_engine: PolicyEngine) -> None:
    policy = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "web", "namespace": "mesh-demo"},
        "spec": {
            "rules": [
                {
                    "from": [
                        {"source": {"namespaces": ["mesh-demo", "team-b"]}},
                        {"source": {"principals": ["cluster.local/ns/mesh-demo/*", "*"]}},
                        {"source": {"ipBlocks": ["10.0.0.0/8"]}},
                    ]
                }
            ]
        },
    }
    assert paths(istio_engine, policy) == [
        "spec.rules[0].from[0].source.namespaces[1]",
        "spec.rules[0].from[1].source.principals[1]",
        "spec.rules[0].from[2].source",
    ]
    # Outside the mesh its sources are not judged; only where it lives is.
    outside_mesh = {**policy, "metadata": {"name": "web", "namespace": "team-b"}}
    assert paths(istio_engine, outside_mesh) == ["metadata.namespace"]
