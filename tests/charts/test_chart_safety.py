"""The safety properties the webhook's deployment and registrations promise."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from meshc import providers
from meshc.webhook import chart_facts
from support.helm_chart import (
    CHART,
    CI_VALUES,
    all_containers,
    args_of,
    ci_values,
    container,
    objects,
    of_kind,
    only,
    pod_spec,
    render,
)
from support.paths import REPO

VALUE_SETS = [pytest.param(None, id="defaults")] + [
    pytest.param(ci_values(p), id=p.name.removesuffix("-values.yaml")) for p in CI_VALUES
]
PROXY_UIDS = {1337, 2102}  # Istio's and Linkerd's proxies: exempt from traffic capture
WEBHOOK_CONFIGURATIONS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")

# (apiGroup, resource) pairs the policies judge; "*" is every resource of the group.
WORKLOADS_AND_NAMESPACES = {
    ("", "pods"),
    ("", "pods/ephemeralcontainers"),
    ("", "pods/status"),
    ("", "namespaces"),
    ("", "namespaces/status"),
    ("", "namespaces/finalize"),
    ("", "replicationcontrollers"),
    ("", "services"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
}
MESH_CONFIGURATION = {
    *((group, "*") for profile in providers.all_profiles() for group in profile.config_groups),
    *((group, resource) for group, _, resource in providers.mesh_config_kinds()),
    *((group, resource) for group, _, resource in providers.mesh_cluster_config_kinds()),
}


def _covered(webhook: dict[str, Any], operation: str) -> set[tuple[str, str]]:
    return {
        (group, resource)
        for rule in webhook["rules"]
        if operation in rule["operations"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }


def _webhooks(rendered: dict[str, list[dict[str, Any]]], kind: str) -> list[dict[str, Any]]:
    hooks: list[dict[str, Any]] = only(rendered, kind)["webhooks"]
    return hooks


# --- the Deployment ---------------------------------------------------------------------


@pytest.mark.parametrize("values", VALUE_SETS)
def test_two_replicas_kept_through_disruptions_and_spread_over_nodes(
    values: dict[str, Any] | None,
) -> None:
    rendered = render(values)
    deployment = only(rendered, "Deployment")
    pods = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0

    pdb = only(rendered, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pods.items()

    spread = pod_spec(rendered)["topologySpreadConstraints"]
    assert "kubernetes.io/hostname" in {c["topologyKey"] for c in spread}
    for constraint in spread:
        assert constraint["labelSelector"]["matchLabels"].items() <= pods.items()


@pytest.mark.parametrize("values", VALUE_SETS)
def test_every_container_runs_restricted_and_bounded(values: dict[str, Any] | None) -> None:
    rendered = render(values)
    pod = pod_spec(rendered)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsUser"] not in PROXY_UIDS | {0}
    for c in all_containers(rendered):
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True, c["name"]
        assert sc["readOnlyRootFilesystem"] is True, c["name"]
        assert sc["allowPrivilegeEscalation"] is False, c["name"]
        assert sc["capabilities"] == {"drop": ["ALL"]}, c["name"]
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, c["name"]
        assert sc["runAsUser"] not in PROXY_UIDS | {0}, c["name"]
        assert {"cpu", "memory"} <= set(c["resources"]["requests"]), c["name"]
        assert "memory" in c["resources"]["limits"], c["name"]


def test_a_custom_uid_reaches_every_container() -> None:
    rendered = render({"runAsUser": 10001, "opa": {"sidecar": {"enabled": True}}})
    assert {c["securityContext"]["runAsUser"] for c in all_containers(rendered)} == {10001}


@pytest.mark.parametrize("values", VALUE_SETS)
def test_probes_hit_readyz_and_healthz_on_the_https_port(values: dict[str, Any] | None) -> None:
    webhook = container(render(values), "webhook")
    assert webhook["ports"] == [{"name": "https", "containerPort": 8443, "protocol": "TCP"}]
    ready, live = webhook["readinessProbe"]["httpGet"], webhook["livenessProbe"]["httpGet"]
    assert (ready["path"], ready["port"], ready["scheme"]) == ("/readyz", "https", "HTTPS")
    assert (live["path"], live["port"], live["scheme"]) == ("/healthz", "https", "HTTPS")
    assert args_of(webhook)["--port"] == "8443"


@pytest.mark.parametrize("values", VALUE_SETS)
def test_the_webhook_gets_no_api_access(values: dict[str, Any] | None) -> None:
    rendered = render(values)
    # The only role the chart may render is the optional audit's, bound to its own account.
    bindings = [o for o in objects(rendered) if o["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    assert not any(o["kind"] == "Role" for o in objects(rendered))
    webhook_accounts = [o for o in objects(rendered) if o["kind"] == "ServiceAccount"
                        and not o["metadata"]["name"].endswith("-audit")]  # fmt: skip
    (account,) = webhook_accounts
    assert account["automountServiceAccountToken"] is False
    for binding in bindings:
        assert [s["name"] for s in binding["subjects"]] == [f"{account['metadata']['name']}-audit"]
    pod = pod_spec(rendered)
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == account["metadata"]["name"]


@pytest.mark.parametrize("values", VALUE_SETS)
def test_the_webhook_pods_stay_out_of_both_meshes(values: dict[str, Any] | None) -> None:
    meta = only(render(values), "Deployment")["spec"]["template"]["metadata"]
    assert meta["labels"]["sidecar.istio.io/inject"] == "false"
    assert meta["labels"]["istio.io/dataplane-mode"] == "none"
    assert meta["annotations"]["linkerd.io/inject"] == "disabled"


def test_pod_metadata_values_cannot_put_the_webhook_back_into_the_mesh() -> None:
    meta = only(
        render(
            {
                "podLabels": {"sidecar.istio.io/inject": "true", "team": "platform"},
                "podAnnotations": {"linkerd.io/inject": "enabled", "owner": "sre"},
            }
        ),
        "Deployment",
    )["spec"]["template"]["metadata"]
    assert meta["labels"]["sidecar.istio.io/inject"] == "false"
    assert meta["labels"]["team"] == "platform"
    assert meta["annotations"]["linkerd.io/inject"] == "disabled"
    assert meta["annotations"]["owner"] == "sre"


@pytest.mark.parametrize("values", VALUE_SETS)
def test_the_server_reads_the_spec_and_certificate_the_pod_mounts(
    values: dict[str, Any] | None,
) -> None:
    rendered = render(values)
    webhook = container(rendered, "webhook")
    args = args_of(webhook)
    mount = next(m for m in webhook["volumeMounts"] if m["name"] == "config")
    assert "subPath" not in mount  # a subPath mount never sees a renewed certificate
    volume = next(v for v in pod_spec(rendered)["volumes"] if v["name"] == "config")
    files = {
        f"{mount['mountPath']}/{item['path']}": (kind, source[kind]["name"], item["key"])
        for source in volume["projected"]["sources"]
        for kind in source
        for item in source[kind]["items"]
    }
    configmap = only(rendered, "ConfigMap")["metadata"]["name"]
    secret = f"{only(rendered, 'Service')['metadata']['name']}-tls"
    assert files[args["--spec"]] == ("configMap", configmap, "mesh.yaml")
    assert files[args["--cert"]] == ("secret", secret, "tls.crt")
    assert files[args["--key"]] == ("secret", secret, "tls.key")
    assert args["--spec"] == "/etc/meshc/mesh.yaml"


def test_server_values_become_serve_arguments() -> None:
    args = args_of(
        container(
            render({"server": {"workers": 4, "failureMode": "open", "maxBodyBytes": 1048576}}),
            "webhook",
        )
    )
    assert (args["--workers"], args["--failure-mode"], args["--max-body"]) == (
        "4",
        "open",
        "1048576",
    )
    assert args["--engine"] == "wasm"


def test_the_engine_value_picks_the_in_process_engine() -> None:
    args = args_of(container(render({"server": {"engine": "embedded"}}), "webhook"))
    assert args["--engine"] == "embedded"


# --- the OPA sidecar --------------------------------------------------------------------


def test_the_opa_sidecar_serves_its_policy_api_on_loopback_only() -> None:
    rendered = render(ci_values(CHART / "ci" / "opa-sidecar-values.yaml"))
    opa = container(rendered, "opa")
    assert opa in pod_spec(rendered)["initContainers"] and opa["restartPolicy"] == "Always"
    assert "--addr=127.0.0.1:8181" in opa["args"]
    assert "--disable-telemetry" in opa["args"]
    assert 8181 not in {p["containerPort"] for p in opa["ports"]}
    image = opa["image"]
    assert image.startswith("openpolicyagent/opa:") and image.endswith("-static")
    args = args_of(container(rendered, "webhook"))
    assert (args["--engine"], args["--opa-url"], args["--opa-timeout"]) == (
        "opa",
        "http://127.0.0.1:8181",
        "1.5",
    )


def test_the_opa_image_is_the_release_the_tests_build() -> None:
    build = (REPO / "tools" / "build.sh").read_text()
    pinned = next(
        line.split('"')[1] for line in build.splitlines() if line.startswith("OPA_VERSION=")
    )
    opa = container(render({"opa": {"sidecar": {"enabled": True}}}), "opa")
    assert opa["image"] == f"openpolicyagent/opa:{pinned.removeprefix('v')}-static"


def test_without_the_sidecar_there_is_no_opa_container() -> None:
    rendered = render()
    assert [c["name"] for c in all_containers(rendered)] == ["webhook"]


# --- the Service and the admission registrations ----------------------------------------


@pytest.mark.parametrize("values", VALUE_SETS)
def test_the_api_server_reaches_the_https_port_through_the_service(
    values: dict[str, Any] | None,
) -> None:
    rendered = render(values)
    service = only(rendered, "Service")
    assert service["spec"]["ports"] == [
        {
            "name": "https",
            "port": 443,
            "targetPort": "https",
            "protocol": "TCP",
            "appProtocol": "https",
        }
    ]
    pods = only(rendered, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pods.items()
    paths = {}
    for kind in WEBHOOK_CONFIGURATIONS:
        for hook in _webhooks(rendered, kind):
            ref = hook["clientConfig"]["service"]
            assert (ref["name"], ref["namespace"], ref["port"]) == (
                service["metadata"]["name"],
                service["metadata"]["namespace"],
                443,
            )
            paths[hook["name"]] = ref["path"]
    assert paths == {
        "validate.meshc.io": "/validate",
        "validate-config.meshc.io": "/validate",
        "validate-delete.meshc.io": "/validate",
        "mutate-namespaces.meshc.io": "/mutate",
    }


@pytest.mark.parametrize("values", VALUE_SETS)
def test_every_webhook_entry_is_v1_side_effect_free_quick_and_equivalent(
    values: dict[str, Any] | None,
) -> None:
    rendered = render(values)
    for kind in WEBHOOK_CONFIGURATIONS:
        for hook in _webhooks(rendered, kind):
            assert hook["admissionReviewVersions"] == ["v1"], hook["name"]
            assert hook["sideEffects"] == "None", hook["name"]
            assert 1 <= hook["timeoutSeconds"] <= 5, hook["name"]
            assert hook["matchPolicy"] == "Equivalent", hook["name"]


def test_validation_fails_closed_and_mutation_fails_open_by_default() -> None:
    rendered = render()
    assert {h["failurePolicy"] for h in _webhooks(rendered, "ValidatingWebhookConfiguration")} == {
        "Fail"
    }
    assert {h["failurePolicy"] for h in _webhooks(rendered, "MutatingWebhookConfiguration")} == {
        "Ignore"
    }


# Mesh configuration is judged in the exempt namespaces too: a mesh-wide policy lives in
# the control plane's namespace (Istio's root namespace, istio-system).
CONFIG_ENTRIES = {"validate-config.meshc.io", "validate-delete.meshc.io"}


def _not_in(hook: dict[str, Any]) -> set[str]:
    (expression,) = hook["namespaceSelector"]["matchExpressions"]
    assert expression["key"] == "kubernetes.io/metadata.name"
    assert expression["operator"] == "NotIn"
    return set(expression["values"])


@pytest.mark.parametrize("values", VALUE_SETS)
def test_no_webhook_judges_kube_system_its_own_namespace_or_workloads_in_the_exempt_ones(
    values: dict[str, Any] | None,
) -> None:
    rendered = render(values, namespace="policy")
    spec_exempt = {"linkerd-jaeger"} if values and "linkerd" in str(values.get("spec")) else set()
    for kind in WEBHOOK_CONFIGURATIONS:
        for hook in _webhooks(rendered, kind):
            if hook["name"] in CONFIG_ENTRIES:
                assert _not_in(hook) == {"kube-system", "policy"}
                continue
            assert (
                _not_in(hook)
                == {
                    "kube-system",
                    "kube-public",
                    "kube-node-lease",
                    "istio-system",
                    "linkerd",
                    "linkerd-viz",
                    "consul",
                    "policy",
                }
                | spec_exempt
            )


def test_kube_system_stays_exempt_when_the_exempt_list_is_replaced() -> None:
    rendered = render({"webhook": {"exemptNamespaces": ["monitoring"]}}, namespace="policy")
    for hook in _webhooks(rendered, "ValidatingWebhookConfiguration"):
        expected = (
            {"kube-system", "policy"}
            if hook["name"] in CONFIG_ENTRIES
            else {"kube-system", "monitoring", "policy"}
        )
        assert _not_in(hook) == expected


def test_validation_covers_exactly_the_judged_kinds_on_create_and_update() -> None:
    (judge, config, _delete) = _webhooks(render(), "ValidatingWebhookConfiguration")
    assert judge["name"] == "validate.meshc.io"
    assert _covered(judge, "CREATE") == _covered(judge, "UPDATE") == WORKLOADS_AND_NAMESPACES
    assert _covered(judge, "DELETE") == set()
    assert config["name"] == "validate-config.meshc.io"
    assert _covered(config, "CREATE") == _covered(config, "UPDATE") == MESH_CONFIGURATION
    assert _covered(config, "DELETE") == set()
    # Subresources reach the webhook only where they change what a pod runs
    # or what a namespace injects; the group-wide "*" never matches them.
    subresources = {r for rule in judge["rules"] for r in rule["resources"] if "/" in r}
    assert subresources == {
        "pods/ephemeralcontainers",
        "pods/status",
        "namespaces/status",
        "namespaces/finalize",
    }


def test_deletes_are_judged_only_for_the_security_objects_meshc_renders() -> None:
    (_, _, delete) = _webhooks(render(), "ValidatingWebhookConfiguration")
    assert delete["name"] == "validate-delete.meshc.io"
    assert {tuple(r["operations"]) for r in delete["rules"]} == {("DELETE",)}
    assert _covered(delete, "DELETE") == {
        ("security.istio.io", "peerauthentications"),
        ("security.istio.io", "authorizationpolicies"),
        ("policy.linkerd.io", "servers"),
        ("policy.linkerd.io", "authorizationpolicies"),
        ("policy.linkerd.io", "meshtlsauthentications"),
        ("kuma.io", "meshtrafficpermissions"),
        ("consul.hashicorp.com", "servicedefaults"),
        ("consul.hashicorp.com", "serviceintentions"),
        ("consul.hashicorp.com", "meshes"),
    }


def test_mutation_touches_only_namespaces_on_create_and_update() -> None:
    (hook,) = _webhooks(render(), "MutatingWebhookConfiguration")
    assert _covered(hook, "CREATE") == _covered(hook, "UPDATE") == {("", "namespaces")}
    assert _covered(hook, "DELETE") == set()
    assert hook["reinvocationPolicy"] == "Never"


CONSUL_SPEC = {
    "apiVersion": "meshc.io/v1alpha1",
    "kind": "Mesh",
    "metadata": {"name": "shop"},
    "spec": {
        "provider": "consul",
        "namespaces": [{"name": "shop"}, {"name": "payments"}],
        "admission": {"exemptNamespaces": ["payments"]},
    },
}


def test_on_consul_new_pods_of_the_meshed_namespaces_are_marked_too() -> None:
    namespaces, pods = _webhooks(render({"spec": CONSUL_SPEC}), "MutatingWebhookConfiguration")
    assert namespaces["name"] == "mutate-namespaces.meshc.io"
    assert pods["name"] == "mutate-pods.meshc.io"
    assert pods["clientConfig"]["service"]["path"] == "/mutate"
    assert _covered(pods, "CREATE") == {("", "pods")}
    assert _covered(pods, "UPDATE") == _covered(pods, "DELETE") == set()
    assert all(rule["scope"] == "Namespaced" for rule in pods["rules"])
    # Only the spec's meshed namespaces, an exempt one left out.
    assert pods["namespaceSelector"] == {
        "matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["shop"]}
        ]
    }
    # Marking fills in defaults: it fails open, and the validator denies an unmarked pod.
    assert pods["failurePolicy"] == "Ignore" and pods["sideEffects"] == "None"
    # Called again after a later webhook changes the pod, so the label copies follow it.
    assert pods["reinvocationPolicy"] == "IfNeeded"


def test_on_consul_the_mutating_configuration_sorts_before_the_injectors() -> None:
    # The API server calls mutating configurations in name order, and
    # consul-k8s's injector (consul-connect-injector) is never called again.
    (config,) = of_kind(render({"spec": CONSUL_SPEC}), "MutatingWebhookConfiguration")
    assert config["metadata"]["name"] == "0-meshc"
    assert config["metadata"]["name"] < "consul-connect-injector"
    (named,) = of_kind(
        render({"spec": CONSUL_SPEC, "webhook": {"mutatingName": "a-meshc"}}),
        "MutatingWebhookConfiguration",
    )
    assert named["metadata"]["name"] == "a-meshc"


def test_on_consul_a_mutating_name_after_the_injectors_is_refused() -> None:
    with pytest.raises(
        helm.HelmError,
        match="must sort before the injector's "
        'MutatingWebhookConfiguration "consul-connect-injector"',
    ):
        render({"spec": CONSUL_SPEC, "webhook": {"mutatingName": "meshc"}})


def test_without_pod_marking_the_mutating_configuration_keeps_its_name() -> None:
    (config,) = of_kind(render(), "MutatingWebhookConfiguration")
    assert config["metadata"]["name"] == "meshc"


def test_the_mutating_webhook_can_be_left_out() -> None:
    rendered = render({"webhook": {"mutating": False}})
    assert of_kind(rendered, "MutatingWebhookConfiguration") == []
    assert len(of_kind(rendered, "ValidatingWebhookConfiguration")) == 1


def test_notes_tell_how_to_keep_the_namespace_out_of_the_mesh() -> None:
    from support.helm_chart import notes

    text = notes(namespace="policy")
    assert "kubectl label namespace policy istio-injection=disabled" in text
    assert "kube-system, kube-public" in text and "policy" in text


def test_the_charts_facts_file_is_generated_from_the_profiles() -> None:
    assert (CHART / "files" / "facts.yaml").read_text() == chart_facts.document(), (
        "charts/meshc/files/facts.yaml is stale: run "
        "`python -m meshc.webhook.chart_facts > charts/meshc/files/facts.yaml`"
    )


@pytest.mark.parametrize("values", VALUE_SETS)
def test_the_webhook_pods_carry_every_meshs_opt_out(values: dict[str, Any] | None) -> None:
    rendered = render(
        {
            **(values or {}),
            "podLabels": {"sidecar.istio.io/inject": "true"},
            "podAnnotations": {"linkerd.io/inject": "enabled"},
        }
    )
    meta = only(rendered, "Deployment")["spec"]["template"]["metadata"]
    for profile in providers.all_profiles():
        assert profile.pod_opt_out["labels"].items() <= meta["labels"].items(), profile.name
        assert profile.pod_opt_out["annotations"].items() <= meta["annotations"].items()
