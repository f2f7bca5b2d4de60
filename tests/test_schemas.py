"""Rendered objects are checked against the upstream CRD and Kubernetes schemas (support.schemas)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from support import schemas
from support.schemas import assert_valid, check, validate
from support.seed import seed_object, seed_objects

Obj = dict[str, Any]


def seed(kind: str, name: str, namespace: str | None = None) -> Obj:
    """A private copy of a seed manifest, free to be broken by the test."""
    return copy.deepcopy(seed_object(kind, name, namespace))


def obj(api_version: str, kind: str, name: str, namespace: str | None = None, **body: Any) -> Obj:
    metadata: Obj = {"name": name} | ({"namespace": namespace} if namespace else {})
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}


def http_route(*backends: tuple[str, int]) -> Obj:
    """A mesh (GAMMA) HTTPRoute attached to the web Service, splitting by weight."""
    refs = [{"name": name, "port": 80, "weight": weight} for name, weight in backends]
    spec = {
        "parentRefs": [{"group": "", "kind": "Service", "name": "web", "port": 80}],
        "rules": [{"backendRefs": refs}],
    }
    return obj("gateway.networking.k8s.io/v1", "HTTPRoute", "web", "mesh-demo", spec=spec)


NAMESPACED_SEED = [o for o in seed_objects() if "namespace" in o["metadata"]]


# --- the seed ---------------------------------------------------------------------------------


def test_the_seed_has_istio_smi_and_core_manifests() -> None:
    kinds = {o["kind"] for o in seed_objects()}
    assert kinds >= {
        "Deployment",
        "Service",
        "DestinationRule",
        "VirtualService",
        "PeerAuthentication",
        "AuthorizationPolicy",
        "TrafficSplit",
    }


@pytest.mark.parametrize(
    "manifest",
    NAMESPACED_SEED,
    ids=[f"{o['kind']}-{o['metadata']['name']}" for o in NAMESPACED_SEED],
)
def test_every_seed_manifest_is_valid(manifest: Obj) -> None:
    assert validate(manifest) == []


def test_seed_manifests_applied_with_kubectl_n_need_their_namespace_written_down() -> None:
    deployment = seed("Deployment", "web")
    assert "namespace" not in deployment["metadata"]

    assert validate(deployment) == [
        "Deployment web: metadata.namespace: required field is missing: Deployment is namespaced"
    ]
    deployment["metadata"]["namespace"] = "l5d-demo"
    assert validate(deployment) == []


def test_the_result_names_the_schema_it_used() -> None:
    assert check(seed("VirtualService", "web")).schema == "crds/istio/crd-all.gen.yaml (v1beta1)"
    assert check(seed("Service", "web", "mesh-demo")).schema == "Kubernetes 1.36"


# --- unknown fields, enums, types -------------------------------------------------------------


def test_a_misspelt_field_is_an_unknown_field_at_its_path() -> None:
    rule = seed("DestinationRule", "web")
    rule["spec"]["subset"] = rule["spec"].pop("subsets")

    assert validate(rule) == ["DestinationRule mesh-demo/web: spec.subset: unknown field"]


def test_a_misspelt_nested_field_is_reported_with_the_full_path() -> None:
    service = seed("VirtualService", "web")
    service["spec"]["http"][0]["route"][1]["destination"]["subsets"] = "v2"

    assert validate(service) == [
        "VirtualService mesh-demo/web: spec.http[0].route[1].destination.subsets: unknown field"
    ]


def test_a_value_outside_an_enum_is_reported_with_the_allowed_values() -> None:
    policy = seed("PeerAuthentication", "default")
    policy["spec"]["mtls"]["mode"] = "STRICTT"

    assert validate(policy) == [
        (
            "PeerAuthentication mesh-demo/default: spec.mtls.mode: "
            "'STRICTT' is not one of ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']"
        )
    ]


def test_built_in_kinds_reject_unknown_fields_and_wrong_types_too() -> None:
    deployment = seed("Deployment", "web-v1")
    deployment["spec"]["replicas"] = "1"
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"

    assert validate(deployment) == [
        "Deployment mesh-demo/web-v1: spec.replicas: '1' is not of type 'integer', 'null'",
        (
            "Deployment mesh-demo/web-v1: spec.template.spec.containers[0].imagePullPolicyy: "
            "unknown field"
        ),
    ]


def test_a_missing_required_field_is_named() -> None:
    service = seed("VirtualService", "web")
    del service["spec"]["http"][0]["route"][0]["destination"]["host"]

    assert validate(service) == [
        (
            "VirtualService mesh-demo/web: spec.http[0].route[0].destination.host: "
            "required field is missing"
        )
    ]


def test_setting_two_fields_of_a_protobuf_oneof_names_the_choice() -> None:
    service = seed("VirtualService", "web")
    service["spec"]["http"][0]["match"] = [{"uri": {"exact": "/api", "prefix": "/"}}]

    assert validate(service) == [
        (
            "VirtualService mesh-demo/web: spec.http[0].match[0].uri: "
            "set at most one of exact, prefix, regex; found exact, prefix"
        )
    ]


def test_every_error_of_an_object_is_reported_not_just_the_first() -> None:
    split = seed("TrafficSplit", "web-split")
    split["spec"]["backends"][0]["weight"] = "90"
    split["spec"]["backends"][1]["service"] = 2

    assert len(validate(split)) == 2


# --- kinds, versions, scope -------------------------------------------------------------------


def test_an_unknown_kind_is_an_error() -> None:
    (error,) = validate(obj("networking.istio.io/v1", "VirtualServce", "web", "mesh-demo"))
    assert error.startswith("VirtualServce mesh-demo/web: unknown kind 'VirtualServce'")


def test_an_unknown_core_kind_is_an_error() -> None:
    (error,) = validate(obj("apps/v1", "Deploymnet", "web", "mesh-demo"))
    assert "unknown kind 'Deploymnet'" in error


def test_a_version_the_crd_does_not_serve_is_an_error() -> None:
    (error,) = validate(obj("networking.istio.io/v2", "VirtualService", "web", "mesh-demo"))
    assert "apiVersion 'networking.istio.io/v2' is not served" in error
    assert "networking.istio.io/v1, networking.istio.io/v1alpha3" in error


def test_an_object_without_api_version_is_an_error() -> None:
    assert validate({"kind": "Service", "metadata": {"name": "web"}}) == [
        "Service web: apiVersion and kind must be set to strings"
    ]


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("v1", "Namespace"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
        ("gateway.networking.k8s.io/v1", "GatewayClass"),
    ],
)
def test_cluster_scoped_kinds_must_not_have_a_namespace(api_version: str, kind: str) -> None:
    errors = validate(obj(api_version, kind, "meshc", "mesh-demo"))
    assert (
        f"{kind} mesh-demo/meshc: metadata.namespace: must not be set: {kind} is cluster-scoped"
        in errors
    )


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("v1", "ConfigMap"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("networking.istio.io/v1", "Sidecar"),
        ("policy.linkerd.io/v1beta3", "Server"),
    ],
)
def test_namespaced_kinds_must_have_a_namespace(api_version: str, kind: str) -> None:
    errors = validate(obj(api_version, kind, "meshc"))
    assert (
        f"{kind} meshc: metadata.namespace: required field is missing: {kind} is namespaced"
        in errors
    )


# --- metadata ---------------------------------------------------------------------------------


def test_an_invalid_label_value_is_rejected_by_the_metadata_rules() -> None:
    # The Kubernetes OpenAPI schema only says "a map of strings"; the syntax is the API server's.
    namespace = obj("v1", "Namespace", "mesh-demo")
    namespace["metadata"]["labels"] = {"istio-injection": "enabled!"}

    (error,) = validate(namespace)
    assert error.startswith(
        "Namespace mesh-demo: metadata.labels.istio-injection: 'enabled!' is not a valid label value"
    )


def test_a_label_value_of_the_wrong_type_is_rejected_by_the_core_schema() -> None:
    namespace = obj("v1", "Namespace", "mesh-demo")
    namespace["metadata"]["labels"] = {"replicas": 2}

    assert validate(namespace) == [
        "Namespace mesh-demo: metadata.labels.replicas: 2 is not of type 'string', 'null'"
    ]


def test_label_keys_may_have_a_dns_prefix_but_only_one() -> None:
    namespace = obj("v1", "Namespace", "mesh-demo")
    namespace["metadata"]["labels"] = {"app.kubernetes.io/name": "web", "a/b/c": "x"}

    (error,) = validate(namespace)
    assert error.startswith('Namespace mesh-demo: metadata.labels["a/b/c"]: invalid key: prefix')


def test_custom_resources_get_the_same_metadata_rules() -> None:
    service = seed("VirtualService", "web")
    service["metadata"]["labels"] = {"version": "v1 beta"}
    service["metadata"]["annotations"] = {"meshc.io/source": 1}

    assert validate(service) == [
        (
            'VirtualService mesh-demo/web: metadata.annotations["meshc.io/source"]: '
            "1 is not of type 'string', 'null'"
        ),
        (
            "VirtualService mesh-demo/web: metadata.labels.version: "
            "'v1 beta' is not a valid label value "
            "(empty, or A-Z, a-z, 0-9, '-', '_' and '.', alphanumeric at both ends)"
        ),
    ]


def test_name_rules_depend_on_the_kind() -> None:
    # Services need an RFC 1035 label (DNS names), most kinds an RFC 1123 subdomain.
    assert validate(obj("v1", "ConfigMap", "1st.config", "mesh-demo")) == []
    assert validate(obj("v1", "Service", "1st", "mesh-demo", spec={})) == [
        (
            "Service mesh-demo/1st: metadata.name: '1st' is not an RFC 1035 label "
            "(a-z, 0-9 and '-', starting with a letter, alphanumeric at the end)"
        )
    ]
    assert validate(obj("rbac.authorization.k8s.io/v1", "ClusterRole", "meshc:webhook")) == []
    (error,) = validate(obj("v1", "Namespace", "mesh.demo"))
    assert "is not a lowercase RFC 1123 label" in error


def test_a_name_is_required() -> None:
    service = seed("Service", "web", "mesh-demo")
    del service["metadata"]["name"]

    assert validate(service) == [
        "Service mesh-demo/<no name>: metadata.name: required field is missing"
    ]


def test_unknown_metadata_fields_are_rejected() -> None:
    rule = seed("DestinationRule", "web")
    rule["metadata"]["label"] = {"app": "web"}

    assert validate(rule) == ["DestinationRule mesh-demo/web: metadata.label: unknown field"]


# --- Gateway API channels ---------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["standard", "experimental", "linkerd"])
def test_a_weighted_http_route_to_services_is_valid_in_every_channel(channel: str) -> None:
    route = http_route(("web-v1", 90), ("web-v2", 10))

    assert validate(route, gateway_channel=channel) == []


@pytest.mark.parametrize("channel", ["standard", "linkerd"])
def test_a_negative_weight_is_rejected_in_both_channels(channel: str) -> None:
    route = http_route(("web-v1", -1), ("web-v2", 10))

    assert validate(route, gateway_channel=channel) == [
        "HTTPRoute mesh-demo/web: spec.rules[0].backendRefs[0].weight: -1 is less than the minimum of 0"
    ]


def test_the_linkerd_channel_uses_the_gateway_api_linkerd_bundles() -> None:
    route = http_route(("web-v1", 1))
    assert check(route, gateway_channel="linkerd").schema == (
        "crds/linkerd/bundled-gateway-api/gateway.networking.k8s.io_httproutes.yaml (v1)"
    )
    assert check(route).schema == (
        "crds/gateway-api/standard/gateway.networking.k8s.io_httproutes.yaml (v1)"
    )


def test_a_rule_name_is_standard_in_v1_6_but_unknown_to_linkerds_v1_1_bundle() -> None:
    route = http_route(("web-v1", 1))
    route["spec"]["rules"][0]["name"] = "canary"

    assert validate(route) == []
    assert validate(route, gateway_channel="linkerd") == [
        "HTTPRoute mesh-demo/web: spec.rules[0].name: unknown field"
    ]


def test_tcp_route_v1alpha2_is_served_only_by_linkerds_bundle() -> None:
    spec = {
        "parentRefs": [{"name": "web"}],
        "rules": [{"backendRefs": [{"name": "db", "port": 5432}]}],
    }
    route = obj("gateway.networking.k8s.io/v1alpha2", "TCPRoute", "db", "mesh-demo", spec=spec)

    assert validate(route, gateway_channel="linkerd") == []
    (error,) = validate(route)
    assert "'gateway.networking.k8s.io/v1alpha2' is not served" in error


def test_an_unknown_channel_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="unknown gateway_channel 'stable'"):
        validate(http_route(("web", 1)), gateway_channel="stable")
    assert schemas.gateway_channels() == ("experimental", "linkerd", "standard")


# --- the structural-schema dialect ------------------------------------------------------------


def test_int_or_string_accepts_both_and_nothing_else() -> None:
    split = seed("TrafficSplit", "web-split")
    split["apiVersion"] = "split.smi-spec.io/v1alpha1"  # weight is int-or-string there
    split["spec"]["backends"][0]["weight"] = "90"
    assert validate(split) == []

    split["spec"]["backends"][0]["weight"] = 0.5
    assert validate(split) == [
        (
            "TrafficSplit l5d-demo/web-split: spec.backends[0].weight: "
            "0.5 is not of type 'integer', 'string'"
        )
    ]


def test_v1alpha2_traffic_split_weights_are_numbers_only() -> None:
    split = seed("TrafficSplit", "web-split")
    split["spec"]["backends"][0]["weight"] = "90"

    assert validate(split) == [
        "TrafficSplit l5d-demo/web-split: spec.backends[0].weight: '90' is not of type 'number'"
    ]


def test_nullable_fields_accept_null_and_others_do_not() -> None:
    rule = seed("DestinationRule", "web")
    policy = rule["spec"]["trafficPolicy"]
    policy["loadBalancer"] = {"localityLbSetting": {"enabled": None}}
    assert validate(rule) == []

    policy["connectionPool"]["http"]["maxRequestsPerConnection"] = None
    assert validate(rule) == [
        (
            "DestinationRule mesh-demo/web: "
            "spec.trafficPolicy.connectionPool.http.maxRequestsPerConnection: "
            "null is not allowed: the field is not nullable (the API server drops it)"
        )
    ]


def test_list_map_keys_must_be_unique() -> None:
    listener = {"name": "http", "port": 80, "protocol": "HTTP"}
    spec = {"gatewayClassName": "istio", "listeners": [listener, listener | {"port": 8080}]}
    gateway = obj("gateway.networking.k8s.io/v1", "Gateway", "edge", "mesh-demo", spec=spec)

    assert validate(gateway) == [
        (
            'Gateway mesh-demo/edge: spec.listeners[1]: duplicate entry for key {"name": "http"} '
            "(first at index 0)"
        )
    ]


def test_formats_are_checked_with_their_kubernetes_meaning() -> None:
    addresses = [
        {"type": "IPAddress", "value": "10.0.0.1"},
        {"type": "IPAddress", "value": "fd00::1"},
    ]
    spec = {"gatewayClassName": "istio", "addresses": addresses, "listeners": []}
    gateway = obj("gateway.networking.k8s.io/v1", "Gateway", "edge", "mesh-demo", spec=spec)
    gateway["spec"]["listeners"] = [{"name": "http", "port": 80, "protocol": "HTTP"}]
    assert validate(gateway) == []

    addresses[1]["value"] = "10.0.0.256"
    assert validate(gateway) == [
        (
            "Gateway mesh-demo/edge: spec.addresses[1].value: no alternative matches: "
            "'10.0.0.256' is not a 'ipv4' | '10.0.0.256' is not a 'ipv6'"
        )
    ]


def test_durations_are_go_durations_not_iso_8601() -> None:
    rule: Obj = {"timeouts": {"request": "10s", "backendRequest": "1m30s"}}
    spec = {
        "parentRefs": [{"group": "policy.linkerd.io", "kind": "Server", "name": "web"}],
        "rules": [rule],
    }
    route = obj("policy.linkerd.io/v1beta3", "HTTPRoute", "web", "l5d-demo", spec=spec)
    assert validate(route) == []

    # Kubernetes also takes "<n> <unit>" pairs, but not ISO 8601, which jsonschema would.
    rule["timeouts"]["request"] = "2 minutes"
    assert validate(route) == []
    rule["timeouts"]["request"] = "PT10S"
    assert validate(route) == [
        "HTTPRoute l5d-demo/web: spec.rules[0].timeouts.request: 'PT10S' is not a 'duration'"
    ]


def test_cel_rules_are_counted_for_the_fields_an_object_reaches() -> None:
    service = seed("VirtualService", "web")
    reached = check(service).cel_rules_skipped
    service["spec"]["http"].append(copy.deepcopy(service["spec"]["http"][0]))

    assert reached > 0
    assert check(service).cel_rules_skipped > reached
    assert check(seed("Deployment", "web-v1")).cel_rules_skipped == 0


def test_embedded_resources_and_nullable_unions_translate_faithfully() -> None:
    # No shipped CRD uses these yet; the translation must still mean what Kubernetes means.
    node = {
        "type": "object",
        "properties": {
            "template": {
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "x-kubernetes-preserve-unknown-fields": True,
            },
            "choice": {
                "type": "object",
                "nullable": True,
                "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
            },
            "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
        },
    }
    validator = Draft202012Validator(schemas._translate(node))

    def ok(instance: Obj) -> bool:
        return bool(validator.is_valid(instance))

    assert ok({"template": {"apiVersion": "v1", "kind": "Pod", "spec": {"any": "thing"}}})
    assert not ok({"template": {"spec": {}}})  # apiVersion and kind are required
    assert ok({"choice": None}) and ok({"choice": {"a": "x"}})
    assert not ok({"choice": {}}) and not ok({"choice": {"c": "x"}})
    assert ok({"ratio": 0.1}) and not ok({"ratio": 0})


# --- other upstream CRDs meshc renders --------------------------------------------------------


def test_linkerd_policy_and_argo_cd_objects_validate() -> None:
    web = {"matchLabels": {"app": "web"}}
    assert_valid([
        obj("policy.linkerd.io/v1beta3", "Server", "web-http", "l5d-demo",
            spec={"podSelector": web, "port": "http", "proxyProtocol": "HTTP/1"}),
        obj("policy.linkerd.io/v1alpha1", "MeshTLSAuthentication", "callers", "l5d-demo",
            spec={"identities": ["*.l5d-demo.serviceaccount.identity.linkerd.cluster.local"]}),
        obj("policy.linkerd.io/v1alpha1", "AuthorizationPolicy", "web-http", "l5d-demo",
            spec={
                "targetRef": {"group": "policy.linkerd.io", "kind": "Server", "name": "web-http"},
                "requiredAuthenticationRefs": [
                    {"group": "policy.linkerd.io", "kind": "MeshTLSAuthentication", "name": "callers"}
                ],
            }),
        obj("argoproj.io/v1alpha1", "Application", "mesh-policies", "argocd",
            spec={
                "project": "default",
                "source": {"repoURL": "https://git.example.com/mesh.git", "path": "out", "targetRevision": "main"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "mesh-demo"},
                "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
            }),
    ])  # fmt: skip


def test_a_server_must_select_pods_or_external_workloads() -> None:
    server = obj("policy.linkerd.io/v1beta3", "Server", "web-http", "l5d-demo", spec={"port": 80})

    assert validate(server) == [
        (
            "Server l5d-demo/web-http: spec: "
            "set exactly one of podSelector, externalWorkloadSelector; found none"
        )
    ]


def test_a_webhook_installation_validates_against_the_core_schemas() -> None:
    labels = {"app.kubernetes.io/name": "meshc-webhook"}
    webhook = {
        "name": "validate.meshc.io",
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "clientConfig": {"service": {"name": "meshc-webhook", "namespace": "meshc", "path": "/validate"}},
        "rules": [{"apiGroups": ["networking.istio.io"], "apiVersions": ["*"],
                   "operations": ["CREATE", "UPDATE"], "resources": ["virtualservices"]}],
    }  # fmt: skip
    subject = [{"kind": "ServiceAccount", "name": "meshc-webhook", "namespace": "meshc"}]
    role_ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "meshc"}
    pod = {"metadata": {"labels": labels},
           "spec": {"containers": [{"name": "webhook", "image": "meshc:0.1.0"}]}}  # fmt: skip
    assert_valid([
        obj("v1", "Namespace", "meshc"),
        obj("v1", "ServiceAccount", "meshc-webhook", "meshc"),
        obj("v1", "ConfigMap", "meshc-policies", "meshc", data={"policy.rego": "package x"}),
        obj("rbac.authorization.k8s.io/v1", "ClusterRole", "meshc",
            rules=[{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}]),
        obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "meshc",
            roleRef=role_ref, subjects=subject),
        obj("rbac.authorization.k8s.io/v1", "RoleBinding", "meshc", "meshc",
            roleRef=role_ref, subjects=subject),
        obj("apps/v1", "Deployment", "meshc-webhook", "meshc",
            spec={"selector": {"matchLabels": labels}, "template": pod}),
        obj("v1", "Service", "meshc-webhook", "meshc",
            spec={"selector": labels, "ports": [{"port": 443, "targetPort": "https"}]}),
        obj("policy/v1", "PodDisruptionBudget", "meshc-webhook", "meshc",
            spec={"minAvailable": 1, "selector": {"matchLabels": labels}}),
        obj("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "meshc",
            webhooks=[webhook]),
        obj("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "meshc",
            webhooks=[webhook | {"name": "mutate.meshc.io"}]),
    ])  # fmt: skip


# --- assert_valid -----------------------------------------------------------------------------


def test_assert_valid_lists_every_error_of_every_object() -> None:
    rule = seed("DestinationRule", "web")
    rule["spec"]["subset"] = "v1"
    policy = seed("PeerAuthentication", "default")
    policy["spec"]["mtls"]["mode"] = "STRICTT"

    with pytest.raises(AssertionError) as raised:
        assert_valid([rule, seed("VirtualService", "web"), policy])

    message = str(raised.value)
    assert message.startswith("2 of 3 objects are invalid:\n")
    assert "DestinationRule mesh-demo/web: spec.subset: unknown field" in message
    assert "PeerAuthentication mesh-demo/default: spec.mtls.mode: 'STRICTT'" in message


def test_assert_valid_refuses_to_pass_on_nothing() -> None:
    with pytest.raises(AssertionError, match="no objects"):
        assert_valid([])
    with pytest.raises(TypeError, match="wrap a single object in a list"):
        assert_valid(seed("VirtualService", "web"))  # type: ignore[arg-type]


def test_the_crd_files_are_parsed_once() -> None:
    for channel in schemas.gateway_channels():
        validate(http_route(("web", 1)), gateway_channel=channel)
    validate(seed("VirtualService", "web"))

    assert schemas._crd_files.cache_info().misses == 1


def test_free_form_subtrees_accept_anything_and_their_siblings_stay_strict() -> None:
    helm: Obj = {"valuesObject": {"replicas": 2, "mesh": {"istio": {"enabled": True}}}}
    spec = {
        "project": "default",
        "source": {"repoURL": "https://charts.example.com", "chart": "web", "helm": helm},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "mesh-demo"},
    }
    application = obj("argoproj.io/v1alpha1", "Application", "web", "argocd", spec=spec)
    assert validate(application) == []

    helm["valueObject"] = {}
    assert validate(application) == [
        "Application argocd/web: spec.source.helm.valueObject: unknown field"
    ]


def test_built_in_kinds_can_be_checked_against_another_kubernetes_release() -> None:
    service = seed("Service", "web", "mesh-demo")
    service["spec"]["trafficDistribution"] = "PreferClose"  # new in Kubernetes 1.30

    assert validate(service) == []
    assert validate(service, kubernetes_version="1.28") == [
        "Service mesh-demo/web: spec.trafficDistribution: unknown field"
    ]
    with pytest.raises(LookupError, match="no schemas for Kubernetes 1.2; it has"):
        validate(service, kubernetes_version="1.2")
