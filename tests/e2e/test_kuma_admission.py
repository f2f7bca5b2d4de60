"""meshc's webhook enforcing a Kuma spec, registered with a real API server.

As in test_webhook_admission.py: `meshc webhook serve` on 127.0.0.1, called by
the API server through the configurations the Helm chart renders. No Kuma
control plane runs here, so a Pod is written as Kuma's injector leaves one
(tests/policies/samples/injection-required/allowed/kuma-injected-native-
sidecar.yaml, from Kuma's own injector goldens), and a builtin gateway's Pod as
kuma-cp's MeshGatewayInstance controller writes it. The spec is the Kuma
samples', in a namespace of its own, with an ingress whose gateway runs in that
meshed namespace.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from meshc.cli import main as meshc
from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, render
from support.api_server import inject
from support.apply import apply_objects, request
from support.helm_chart import render_webhook_configurations
from support.policy_samples import SAMPLES, SPECS
from support.webhook_server import WebhookServer, generate_certs

pytestmark = pytest.mark.tools

MESHED = "kuma-shop"
REGISTRATION_TIMEOUT = 20.0
Obj = dict[str, Any]


def namespace(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, **({"labels": labels} if labels else {})},
    }


def pod(name: str, injected: bool = True, **security: Any) -> Obj:
    container: Obj = {"name": "web", "image": "docker.io/library/nginx:1.29"}
    if security:
        container["securityContext"] = security
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": MESHED, "labels": {"app": "web"}},
        "spec": {"containers": [container]},
    }
    return inject(obj, "kuma") if injected else obj


def mesh(mode: str) -> Obj:
    return {
        "apiVersion": "kuma.io/v1alpha1",
        "kind": "Mesh",
        "metadata": {"name": "default"},
        "spec": {
            "mtls": {
                "enabledBackend": "ca-1",
                "backends": [{"name": "ca-1", "type": "builtin", "mode": mode}],
            }
        },
    }


def create(
    kube_client: k8s.ApiClient, path: str, body: Obj, dry_run: bool = True
) -> tuple[int, Obj]:
    status, answer = request(
        kube_client, "POST", path, query={"dryRun": "All"} if dry_run else None, body=body
    )
    return status, answer


def _wait_until_registered(kube_client: k8s.ApiClient) -> None:
    deadline = time.monotonic() + REGISTRATION_TIMEOUT
    while True:
        status_m, meshed = create(kube_client, "/api/v1/namespaces", namespace(MESHED))
        status_v, _ = create(kube_client, "/apis/kuma.io/v1alpha1/meshes", mesh("PERMISSIVE"))
        labels = (meshed.get("metadata") or {}).get("labels") or {}
        if (
            status_m == 201
            and labels.get("kuma.io/sidecar-injection") == "enabled"
            and status_v == 403
        ):
            return
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"the webhook was not called within {REGISTRATION_TIMEOUT:.0f}s: "
                f"{status_m} {meshed}; {status_v}"
            )
        time.sleep(0.2)


# The spec's ingress: Kuma's builtin gateway, its pods in the meshed namespace itself.
GATEWAY = "edge"
GATEWAY_ACCOUNT = "edge-gw"
INGRESS = {
    "name": GATEWAY,
    "namespace": MESHED,
    "gateway": {"namespace": MESHED, "serviceAccount": GATEWAY_ACCOUNT},
    "listeners": [{"name": "web", "port": 8080, "protocol": "HTTP", "hosts": ["*"]}],
    "routes": [{"backend": {"service": "web"}}],
}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = yaml.safe_load((SPECS / "kuma.yaml").read_text().replace("kuma-demo", MESHED))
    data["spec"]["ingress"] = [INGRESS]
    path = tmp_path_factory.mktemp("kuma-spec") / "mesh.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def webhook(
    kube_client: k8s.ApiClient,
    installed_crds: list[str],
    spec: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WebhookServer]:
    workdir = tmp_path_factory.mktemp("kuma-admission")
    certs = generate_certs(workdir / "certs")
    server = WebhookServer(spec, certs, workdir / "webhook.log").start()
    configurations: list[Obj] = []
    try:
        configurations = render_webhook_configurations(
            server.url, certs.ca.read_bytes(), extra={"spec": spec.read_text()}
        )
        assert [
            str(e)
            for e in apply_objects(
                kube_client, configurations, dry_run=False, create_namespaces=False
            )
        ] == []
        _wait_until_registered(kube_client)
        status, stored = create(kube_client, "/api/v1/namespaces", namespace(MESHED), dry_run=False)
        assert status == 201, stored
        accounts = [
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": MESHED},
            }
            for name in ("default", GATEWAY_ACCOUNT)
        ]
        assert apply_objects(kube_client, accounts, dry_run=False) == []
        yield server
    finally:
        for config in configurations:
            request(
                kube_client,
                "DELETE",
                f"/apis/admissionregistration.k8s.io/v1/"
                f"{config['kind'].lower()}s/{config['metadata']['name']}",
            )
        server.stop()


PODS = f"/api/v1/namespaces/{MESHED}/pods"


def test_the_namespace_is_stored_with_the_injection_label(
    kube_client: k8s.ApiClient, webhook: WebhookServer
) -> None:
    status, stored = request(kube_client, "GET", f"/api/v1/namespaces/{MESHED}")
    assert status == 200
    assert stored["metadata"]["labels"]["kuma.io/sidecar-injection"] == "enabled"


def test_the_pod_kumas_injector_writes_is_admitted_and_the_same_pod_without_it_denied(
    kube_client: k8s.ApiClient, webhook: WebhookServer
) -> None:
    status, answer = create(kube_client, PODS, pod("injected"))
    assert status == 201, answer
    status, answer = create(kube_client, PODS, pod("skipped", injected=False))
    assert status == 403, answer
    assert "[meshc:injection-required]" in answer["message"]
    assert "runs without Kuma's sidecar" in answer["message"]


def test_an_app_container_as_the_sidecars_uid_is_denied(
    kube_client: k8s.ApiClient, webhook: WebhookServer
) -> None:
    status, answer = create(kube_client, PODS, pod("impostor", runAsUser=5678))
    assert status == 403, answer
    assert "runs as the proxy's UID" in answer["message"]
    status, answer = create(kube_client, PODS, pod("neighbour", runAsUser=5679))
    assert status == 201, answer


def test_the_mesh_keeps_strict_mtls(kube_client: k8s.ApiClient, webhook: WebhookServer) -> None:
    status, answer = create(kube_client, "/apis/kuma.io/v1alpha1/meshes", mesh("PERMISSIVE"))
    assert status == 403 and "[meshc:mtls-strict]" in answer["message"], answer
    status, answer = create(kube_client, "/apis/kuma.io/v1alpha1/meshes", mesh("STRICT"))
    assert status == 201, answer


def test_the_injection_label_cannot_be_turned_off(
    kube_client: k8s.ApiClient, webhook: WebhookServer
) -> None:
    path = f"/api/v1/namespaces/{MESHED}"
    # An update: /mutate never overwrites a choice written on the object; /validate
    # denies it.
    _, stored = request(kube_client, "GET", path)
    stored["metadata"]["labels"]["kuma.io/sidecar-injection"] = "disabled"
    status, answer = request(kube_client, "PUT", path, body=stored)
    assert status == 403 and "disables sidecar injection" in answer["message"], answer
    # The label removed: /mutate puts it back before /validate sees it.
    del stored["metadata"]["labels"]["kuma.io/sidecar-injection"]
    status, answer = request(kube_client, "PUT", path, body=stored)
    assert status == 200, answer
    assert answer["metadata"]["labels"]["kuma.io/sidecar-injection"] == "enabled"
    # The status subresource, which /mutate does not see: denied.
    _, stored = request(kube_client, "GET", path)
    stored["metadata"]["labels"]["kuma.io/sidecar-injection"] = "disabled"
    status, answer = request(kube_client, "PUT", f"{path}/status", body=stored)
    assert status == 403 and "disables sidecar injection" in answer["message"], answer
    assert (
        request(kube_client, "GET", path)[1]["metadata"]["labels"]["kuma.io/sidecar-injection"]
        == "enabled"
    )


def test_the_rendered_permission_cannot_be_widened_or_deleted(
    kube_client: k8s.ApiClient, webhook: WebhookServer, spec: Path
) -> None:
    objects, _ = render(load_mesh(str(spec)), RenderOptions(), "kuma")
    (permission,) = [o for o in objects if o["kind"] == "MeshTrafficPermission"]
    path = f"/apis/kuma.io/v1alpha1/namespaces/{MESHED}/meshtrafficpermissions"
    status, stored = create(kube_client, path, permission, dry_run=False)
    assert status == 201, stored
    widened = {
        **stored,
        "spec": {
            **stored["spec"],
            "from": [{"targetRef": {"kind": "Mesh"}, "default": {"action": "Allow"}}],
        },
    }
    status, answer = request(
        kube_client, "PUT", f"{path}/{permission['metadata']['name']}", body=widened
    )
    assert status == 403 and "[meshc:" in answer["message"], answer
    status, answer = request(kube_client, "DELETE", f"{path}/{permission['metadata']['name']}")
    assert status == 403 and "[meshc:managed-objects]" in answer["message"], answer


# --- the builtin gateway ------------------------------------------------------------------
#
# kuma-cp v2.14.3 runs a MeshGatewayInstance as a Deployment of its own
# (pkg/plugins/runtime/k8s/controllers/gateway_instance_controller.go,
# createOrUpdateDeployment), whose one container is built by the same factory as the
# sidecar (pkg/plugins/runtime/k8s/containers/factory.go, NewContainer) with the
# arguments addGatewayReconcilers gives it (plugin_gateway.go) and kuma-cp's defaults
# (kuma-cp.defaults.yaml) under its Helm chart: Envoy's admin API on a Unix socket, so the
# probes ask the readiness reporter (9902); the embedded DNS proxy on 15053; the OTel pipe
# on (HOST_IP); no CPU limit, so no --concurrency; no startup probe nor postStart hook
# (the gateway's factory has sidecar containers and waitForDataplane off). The Pod is
# what the ReplicaSet controller creates from that template.

INJECTED = SAMPLES / "injection-required" / "allowed" / "kuma-injected-native-sidecar.yaml"
TEMPLATE_HASH = "6f9c8d7b54"


def control_plane_ca() -> str:
    """The control plane's CA, as the Helm chart gives kuma-cp (injector.caCertFile)."""
    review = yaml.safe_load(INJECTED.read_text())
    (sidecar,) = [
        c
        for c in review["request"]["object"]["spec"]["initContainers"]
        if c["name"] == "kuma-sidecar"
    ]
    (ca,) = [e["value"] for e in sidecar["env"] if e["name"] == "KUMA_CONTROL_PLANE_CA_CERT"]
    return str(ca)


def field_ref(path: str) -> Obj:
    return {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}


def gateway_container(mesh: str = "default") -> Obj:
    ready = {"httpGet": {"path": "/ready", "port": 9902}}
    return {
        "name": "kuma-gateway",
        "image": "docker.io/kumahq/kuma-dp:2.14.3",
        "imagePullPolicy": "IfNotPresent",
        "args": ["run", "--log-level=info"],
        # sidecarEnvVars, sorted by name, then the memory limit the controller appends.
        "env": [
            {"name": "HOST_IP", "valueFrom": field_ref("status.hostIP")},
            {"name": "INSTANCE_IP", "valueFrom": field_ref("status.podIP")},
            # The instance carries no kuma.io/gateway annotation, so the factory's default
            # (0) is written (probes.SetApplicationProbeProxyPortAnnotation).
            {"name": "KUMA_APPLICATION_PROBE_PROXY_PORT", "value": "0"},
            {"name": "KUMA_CONTROL_PLANE_CA_CERT", "value": control_plane_ca()},
            {
                "name": "KUMA_CONTROL_PLANE_URL",
                "value": "https://kuma-control-plane.kuma-system:5678",
            },
            {"name": "KUMA_DATAPLANE_DRAIN_TIME", "value": "30s"},
            {"name": "KUMA_DATAPLANE_MESH", "value": mesh},
            {
                "name": "KUMA_DATAPLANE_RUNTIME_TOKEN_PATH",
                "value": "/var/run/secrets/kubernetes.io/serviceaccount/token",
            },
            {"name": "KUMA_DNS_ENABLED", "value": "true"},
            {"name": "KUMA_DNS_ENABLE_LOGGING", "value": "false"},
            {"name": "KUMA_DNS_PROXY_PORT", "value": "15053"},
            {"name": "POD_NAME", "valueFrom": field_ref("metadata.name")},
            {"name": "POD_NAMESPACE", "valueFrom": field_ref("metadata.namespace")},
            {
                "name": "KUMA_DATAPLANE_RESOURCES_MAX_MEMORY_BYTES",
                "valueFrom": {
                    "resourceFieldRef": {
                        "containerName": "kuma-gateway",
                        "resource": "limits.memory",
                    }
                },
            },
        ],
        "livenessProbe": {
            **ready,
            "initialDelaySeconds": 60,
            "timeoutSeconds": 3,
            "periodSeconds": 5,
            "successThreshold": 1,
            "failureThreshold": 12,
        },
        "readinessProbe": {
            **ready,
            "initialDelaySeconds": 1,
            "timeoutSeconds": 3,
            "periodSeconds": 5,
            "successThreshold": 1,
            "failureThreshold": 12,
        },
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi", "ephemeral-storage": "50M"},
            "limits": {"memory": "512Mi", "ephemeral-storage": "1G"},
        },
        "securityContext": {
            "runAsUser": 5678,
            "runAsGroup": 5678,
            "allowPrivilegeEscalation": False,
            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def gateway_pod(
    name: str,
    app: str = GATEWAY,
    mesh: str = "default",
    containers: list[Obj] | None = None,
) -> Obj:
    """The Pod of the spec's gateway (``app`` its MeshGatewayInstance, ``mesh`` its Mesh)."""
    tags = json.dumps({"kuma.io/service": f"{app}_{MESHED}_svc"}, separators=(",", ":"))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": MESHED,
            "labels": {
                "app": app,
                "kuma.io/mesh": mesh,
                "kuma.io/sidecar-injection": "disabled",
                "pod-template-hash": TEMPLATE_HASH,
            },
            "annotations": {"kuma.io/gateway": "builtin", "kuma.io/tags": tags},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"{app}-{TEMPLATE_HASH}",
                    "uid": "3b0e4f6a-2c1d-4e8f-9a7b-5d6c4b3a2f10",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "serviceAccountName": GATEWAY_ACCOUNT,
            "securityContext": {
                "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]
            },
            "containers": containers if containers is not None else [gateway_container(mesh)],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


GENUINE = gateway_pod(f"{GATEWAY}-{TEMPLATE_HASH}-q4x2m")
APP_BESIDE = {"name": "web", "image": "docker.io/library/nginx:1.29"}
OTHER_IMAGE = {**gateway_container(), "image": "example.com/kuma-dp:2.14.3"}
# What the API server says of each look-alike, beside the finding every one of them
# draws: the gateway annotation on a pod that is not the spec's gateway.
LOOKALIKES = {
    "a-second-container": (
        gateway_pod("beside", containers=[gateway_container(), APP_BESIDE]),
        "opts the pod out of sidecar injection",
    ),
    "another-image": (
        gateway_pod("image", containers=[OTHER_IMAGE]),
        "opts the pod out of sidecar injection",
    ),
    "no-ingress-of-the-spec": (
        gateway_pod("stray", app="side-door"),
        "opts the pod out of sidecar injection",
    ),
    "another-mesh": (
        gateway_pod("shadow", mesh="shadow"),
        'moves the workload to another Kuma mesh than the spec\'s (default): "shadow"',
    ),
}
GATEWAY_FINDING = 'marks the pod a gateway, whose inbound traffic is not captured: "builtin"'


def test_the_gateway_pod_kuma_cp_writes_for_the_rendered_instance_is_admitted(
    kube_client: k8s.ApiClient, webhook: WebhookServer, spec: Path
) -> None:
    objects, _ = render(load_mesh(str(spec)), RenderOptions(), "kuma")
    (instance,) = [o for o in objects if o["kind"] == "MeshGatewayInstance"]
    # The Pod belongs to the instance the spec renders, in the meshed namespace.
    assert (instance["metadata"]["namespace"], instance["metadata"]["name"]) == (MESHED, GATEWAY)
    assert instance["metadata"]["labels"]["kuma.io/mesh"] == "default"
    assert instance["spec"]["podTemplate"]["spec"]["serviceAccountName"] == GATEWAY_ACCOUNT
    status, answer = create(kube_client, PODS, GENUINE)
    assert status == 201, answer
    (container,) = answer["spec"]["containers"]
    assert container["name"] == "kuma-gateway" and "initContainers" not in answer["spec"]


@pytest.mark.parametrize("case", list(LOOKALIKES))
def test_a_gateway_look_alike_is_denied_as_any_pod(
    kube_client: k8s.ApiClient, webhook: WebhookServer, case: str
) -> None:
    pod_, expected = LOOKALIKES[case]
    status, answer = create(kube_client, PODS, pod_)
    assert status == 403, answer
    assert "[meshc:injection-required]" in answer["message"]
    assert GATEWAY_FINDING in answer["message"]
    assert expected in answer["message"]


def check_pod(
    pod_: Obj, spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str]]:
    """`meshc check` of the Pod's manifest: its exit code and its findings' messages."""
    path = tmp_path / f"{pod_['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(pod_, sort_keys=False))
    capsys.readouterr()
    code = meshc(["check", "--spec", str(spec), "--format", "json", str(path)])
    out = capsys.readouterr().out
    assert code in (0, 1), out
    return code, [row["message"] for row in json.loads(out)]


@pytest.mark.parametrize("case", ["genuine", *LOOKALIKES])
def test_meshc_check_decides_the_gateway_pods_as_the_webhook(
    kube_client: k8s.ApiClient,
    webhook: WebhookServer,
    spec: Path,
    case: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pod_ = GENUINE if case == "genuine" else LOOKALIKES[case][0]
    status, answer = create(kube_client, PODS, pod_)
    code, messages = check_pod(pod_, spec, tmp_path, capsys)
    assert (code == 0) is (status == 201), (messages, answer)
    assert (code == 0) is (case == "genuine")
    # Offline a Pod is judged by what it asks for (docs/policies.md, "Outcome and intent"):
    # each of those findings is one the webhook gives too, which adds what the pod runs.
    for message in messages:
        assert message in answer["message"]


def test_the_rendered_gateway_passes_meshc_check_and_the_webhook(
    kube_client: k8s.ApiClient,
    webhook: WebhookServer,
    spec: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    objects, _ = render(load_mesh(str(spec)), RenderOptions(), "kuma")
    gateway = [o for o in objects if o["kind"] in ("MeshGateway", "MeshGatewayInstance")] + [
        o
        for o in objects
        if o["kind"] == "MeshHTTPRoute" and o["metadata"].get("namespace") == "kuma-system"
    ]
    assert sorted(o["kind"] for o in gateway) == [
        "MeshGateway",
        "MeshGatewayInstance",
        "MeshHTTPRoute",
    ]
    path = tmp_path / "rendered.yaml"
    path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    capsys.readouterr()
    assert meshc(["check", "--spec", str(spec), "--format", "json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out) == []
    # Through the API server: every object the gateway is made of, admitted.
    assert [str(e) for e in apply_objects(kube_client, gateway, dry_run=True)] == []
