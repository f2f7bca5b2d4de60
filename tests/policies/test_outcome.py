"""A Pod under admission is judged by what it will run: the genuine proxy, its capture intact.

The compliant Pods are the injectors' own output (the ``*-injected-*`` samples,
derived from Istio's and Linkerd's golden files, and built from Kuma's and
consul-k8s's injector code). Every denied case below is
one of them with one thing changed, the way an override, an annotation, a
failed-open injector or a hand-written Pod would change it; each must be
denied naming the field, and the unchanged Pod, and its harmless variants,
must stay allowed. Both in-process engines must agree on every case.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshc.policies.engine import PolicyEngine, create_engine
from support.policy_samples import SAMPLES, data_for

INJECTED = sorted((SAMPLES / "injection-required" / "allowed").glob("*-injected-*-*.yaml"))
ISTIO = [p for p in INJECTED if p.name.startswith("istio-")]
LINKERD = [p for p in INJECTED if p.name.startswith("linkerd-")]
KUMA = [p for p in INJECTED if p.name.startswith("kuma-")]
CONSUL = [p for p in INJECTED if p.name.startswith("consul-")]
# The namespace each provider's samples live in (tests/policies/samples/specs).
PROVIDER_OF = {
    "mesh-demo": "istio",
    "l5d-demo": "linkerd",
    "kuma-demo": "kuma",
    "consul-demo": "consul",
}

Review = dict[str, Any]
Mutation = Callable[[dict[str, Any]], None]


def load(path: Path) -> Review:
    review: Review = yaml.safe_load(path.read_text())
    return review


@pytest.fixture(scope="module", params=["embedded", "wasm"])
def engines(request: pytest.FixtureRequest) -> dict[str, PolicyEngine]:
    return {p: create_engine(request.param, data_for(p)) for p in PROVIDER_OF.values()}


def judge(engines: dict[str, PolicyEngine], review: Review) -> list[str]:
    provider = PROVIDER_OF[review["request"]["namespace"]]
    return [f"{v.policy}:{v.path}" for v in engines[provider].evaluate(review)]


def container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    for field in ("initContainers", "containers"):
        for c in pod["spec"].get(field, []):
            if c["name"] == name:
                found: dict[str, Any] = c
                return found
    raise KeyError(name)


def path_of(pod: dict[str, Any], name: str) -> str:
    for field in ("initContainers", "containers"):
        for i, c in enumerate(pod["spec"].get(field, [])):
            if c["name"] == name:
                return f"spec.{field}[{i}]"
    raise KeyError(name)


def capture(pod: dict[str, Any]) -> dict[str, Any]:
    for name in (
        "istio-init",
        "istio-validation",
        "linkerd-init",
        "linkerd-network-validator",
        "kuma-init",
        "kuma-validation",
        "consul-connect-inject-init",
    ):
        try:
            return container(pod, name)
        except KeyError:
            continue
    raise KeyError("no capture container")


def set_flag(args: list[str], flag: str, value: str) -> None:
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]


def remove(name: str) -> Mutation:
    def change(pod: dict[str, Any]) -> None:
        for field in ("initContainers", "containers"):
            pod["spec"][field] = [c for c in pod["spec"].get(field, []) if c["name"] != name]

    return change


def flag(flag_name: str, value: str) -> Mutation:
    def change(pod: dict[str, Any]) -> None:
        set_flag(capture(pod)["args"], flag_name, value)

    return change


def append_arg(*args: str) -> Mutation:
    def change(pod: dict[str, Any]) -> None:
        capture(pod)["args"] += list(args)

    return change


def app(**security: Any) -> Mutation:
    def change(pod: dict[str, Any]) -> None:
        container(pod, "web").setdefault("securityContext", {}).update(security)

    return change


def both(*changes: Mutation) -> Mutation:
    def change(pod: dict[str, Any]) -> None:
        for c in changes:
            c(pod)

    return change


def proxy(provider: str) -> str:
    return {
        "istio": "istio-proxy",
        "linkerd": "linkerd-proxy",
        "kuma": "kuma-sidecar",
        "consul": "consul-dataplane",
    }[provider]


def set_arg(name: str, value: str) -> Mutation:
    """Set kumactl's --name=value in the capture container's arguments."""

    def change(pod: dict[str, Any]) -> None:
        args = capture(pod).setdefault("args", [])
        args[:] = [a for a in args if not a.startswith(f"{name}=")] + [f"{name}={value}"]

    return change


def cases(
    paths: list[Path], mutations: dict[str, tuple[Mutation, Callable[[dict[str, Any]], str]]]
) -> Iterator[Any]:
    for path in paths:
        for name, (mutation, where) in mutations.items():
            if name.startswith("cni:") and "cni" not in path.name:
                continue
            if name.startswith("init:") and "cni" in path.name:
                continue
            yield pytest.param(path, mutation, where, id=f"{path.stem}-{name}")


def _capture_args(pod: dict[str, Any]) -> str:
    return f"{path_of(pod, capture(pod)['name'])}.args"


def _proxy_env(provider: str) -> Callable[[dict[str, Any]], str]:
    return lambda pod: f"{path_of(pod, proxy(provider))}.env"


ISTIO_DENIED: dict[str, tuple[Mutation, Callable[[dict[str, Any]], str]]] = {
    "no proxy (injector skipped it)": (remove("istio-proxy"), lambda p: "spec.containers"),
    "a look-alike proxy image": (
        lambda p: container(p, "istio-proxy").update(image="docker.io/attacker/proxyv2:1.30.3"),
        lambda p: "spec.containers",
    ),
    "no capture (interceptionMode NONE)": (
        both(remove("istio-init"), remove("istio-validation")),
        lambda p: "spec.initContainers",
    ),
    "includeOutboundIPRanges narrowed": (flag("-i", "10.96.0.0/12"), _capture_args),
    "includeInboundPorts narrowed": (flag("-b", "9080"), _capture_args),
    "excludeOutboundIPRanges": (flag("-x", "0.0.0.0/0"), _capture_args),
    "an app port left out inbound (status port moved)": (
        flag("-d", "15090,15021,8080"),
        _capture_args,
    ),
    "excludeOutboundPorts": (flag("-o", "5432"), _capture_args),
    "excludeInterfaces": (flag("-c", "eth1"), _capture_args),
    "kubevirt interfaces": (flag("-k", "net1"), _capture_args),
    "outbound redirected elsewhere": (flag("-p", "15002"), _capture_args),
    "interception off": (flag("-m", "NONE"), _capture_args),
    "an argument the injector never writes": (append_arg("--cleanup-only"), _capture_args),
    "init: rules not applied": (append_arg("--skip-rule-apply"), _capture_args),
    "cni: the validation does not validate": (
        lambda p: capture(p)["args"].remove("--run-validation"),
        _capture_args,
    ),
    "cni: the validation cleans up instead": (append_arg("--cleanup-only"), _capture_args),
    "another program": (
        lambda p: capture(p).update(command=["/bin/true"]),
        lambda p: f"{path_of(p, capture(p)['name'])}.command",
    ),
    "capture settings from the environment": (
        lambda p: capture(p).setdefault("env", []).append({"name": "DRY_RUN", "value": "true"}),
        lambda p: f"{path_of(p, capture(p)['name'])}.env[0]",
    ),
    "the proxy's user moved away from -u": (
        lambda p: container(p, "istio-proxy")["securityContext"].update(runAsUser=1500),
        lambda p: f"{path_of(p, 'istio-proxy')}.securityContext.runAsUser",
    ),
    "the exempt UID moved, and the app runs as it": (
        both(
            flag("-u", "1500"),
            lambda p: container(p, "istio-proxy")["securityContext"].update(
                runAsUser=1500, runAsGroup=1500
            ),
            app(runAsUser=1500),
        ),
        lambda p: f"{path_of(p, 'web')}.securityContext.runAsUser",
    ),
    "the app in the exempt group": (
        app(runAsGroup=1337),
        lambda p: f"{path_of(p, 'web')}.securityContext.runAsGroup",
    ),
    "envoy disabled": (
        lambda p: container(p, "istio-proxy")["env"].append(
            {"name": "DISABLE_ENVOY", "value": "true"}
        ),
        _proxy_env("istio"),
    ),
    "no injection status (not injected by Istio)": (
        lambda p: p["metadata"]["annotations"].pop("sidecar.istio.io/status"),
        lambda p: 'metadata.annotations["sidecar.istio.io/status"]',
    ),
    "peers told to send plaintext": (
        lambda p: p["metadata"]["labels"].update({"security.istio.io/tlsMode": "disabled"}),
        lambda p: 'metadata.labels["security.istio.io/tlsMode"]',
    ),
    "the app may rewrite iptables (NET_RAW)": (
        app(capabilities={"add": ["NET_RAW"]}),
        lambda p: f"{path_of(p, 'web')}.securityContext.capabilities.add[0]",
    ),
}

LINKERD_DENIED: dict[str, tuple[Mutation, Callable[[dict[str, Any]], str]]] = {
    "no proxy (the injector failed open)": (remove("linkerd-proxy"), lambda p: "spec.containers"),
    "a look-alike proxy image": (
        lambda p: container(p, "linkerd-proxy").update(
            image="cr.l5d.io/attacker/proxy:edge-26.8.3"
        ),
        lambda p: "spec.containers",
    ),
    "no capture": (
        both(remove("linkerd-init"), remove("linkerd-network-validator")),
        lambda p: "spec.initContainers",
    ),
    "init: an app port left out inbound": (
        flag("--inbound-ports-to-ignore", "4190,4191,8080"),
        _capture_args,
    ),
    "init: an outbound port left out": (
        flag("--outbound-ports-to-ignore", "4567,4568,5432"),
        _capture_args,
    ),
    "init: subnets around the proxy": (flag("--subnets-to-ignore", "10.0.0.0/8"), _capture_args),
    "init: inbound redirected elsewhere": (flag("--incoming-proxy-port", "4144"), _capture_args),
    "init: simulated rules": (append_arg("--simulate"), _capture_args),
    "another program": (
        lambda p: capture(p).update(command=["/bin/true"]),
        lambda p: f"{path_of(p, capture(p)['name'])}.command",
    ),
    "init: the proxy's user moved away from --proxy-uid": (
        lambda p: container(p, "linkerd-proxy")["securityContext"].update(runAsUser=3000),
        lambda p: f"{path_of(p, 'linkerd-proxy')}.securityContext.runAsUser",
    ),
    "init: the exempt UID moved, and the app runs as it": (
        both(
            flag("--proxy-uid", "3000"),
            lambda p: container(p, "linkerd-proxy")["securityContext"].update(runAsUser=3000),
            app(runAsUser=3000),
        ),
        lambda p: f"{path_of(p, 'web')}.securityContext.runAsUser",
    ),
    "init: an exempt group, and the app in it": (
        both(flag("--proxy-gid", "3001"), app(runAsGroup=3001)),
        lambda p: f"{path_of(p, 'web')}.securityContext.runAsGroup",
    ),
    "the inbound policy overridden by additional env": (
        lambda p: container(p, "linkerd-proxy")["env"].append(
            {"name": "LINKERD2_PROXY_INBOUND_DEFAULT_POLICY", "value": "all-unauthenticated"}
        ),
        _proxy_env("linkerd"),
    ),
    "the injector's excluded label": (
        lambda p: p["metadata"]["labels"].update({"linkerd.io/control-plane-component": "x"}),
        lambda p: 'metadata.labels["linkerd.io/control-plane-component"]',
    ),
    "the app may rewrite iptables (NET_ADMIN)": (
        app(capabilities={"add": ["NET_ADMIN"]}),
        lambda p: f"{path_of(p, 'web')}.securityContext.capabilities.add[0]",
    ),
}


KUMA_DENIED: dict[str, tuple[Mutation, Callable[[dict[str, Any]], str]]] = {
    "no sidecar (the injector skipped it)": (
        remove("kuma-sidecar"),
        lambda p: "spec.initContainers",
    ),
    "the sidecar as a regular container, not a native sidecar": (
        lambda p: (
            p["spec"]["containers"].append(
                {k: v for k, v in container(p, "kuma-sidecar").items() if k != "restartPolicy"}
            ),
            remove("kuma-sidecar")(p),
        ),
        lambda p: "spec.initContainers",
    ),
    "a look-alike sidecar image": (
        lambda p: container(p, "kuma-sidecar").update(image="docker.io/attacker/kuma-dp:2.14.3"),
        lambda p: "spec.initContainers",
    ),
    "no capture": (
        both(remove("kuma-init"), remove("kuma-validation")),
        lambda p: "spec.initContainers",
    ),
    "init: an app port left out inbound": (
        set_arg("--exclude-inbound-ports", "9902,9000,8080"),
        _capture_args,
    ),
    "init: an outbound port left out": (set_arg("--exclude-outbound-ports", "5432"), _capture_args),
    "init: outbound addresses left out": (
        set_arg("--exclude-outbound-ips", "10.0.0.0/8"),
        _capture_args,
    ),
    "init: inbound addresses left out": (
        set_arg("--exclude-inbound-ips", "10.0.0.0/8"),
        _capture_args,
    ),
    "init: ports left out for a UID": (
        set_arg("--exclude-outbound-ports-for-uids", "tcp:*:1000"),
        _capture_args,
    ),
    "init: inbound not captured": (set_arg("--redirect-inbound", "false"), _capture_args),
    "init: outbound redirected elsewhere": (
        set_arg("--redirect-outbound-port", "15002"),
        _capture_args,
    ),
    "init: an argument the injector never writes": (append_arg("--dry-run"), _capture_args),
    "init: a configuration file the injector does not mount": (
        set_arg("--config", "/etc/attacker/tproxy.yaml"),
        _capture_args,
    ),
    "cni: an argument the injector never writes": (
        append_arg("--vnet=eth1:10.0.0.0/8"),
        _capture_args,
    ),
    "another program": (
        lambda p: capture(p).update(command=["/bin/true"]),
        lambda p: f"{path_of(p, capture(p)['name'])}.command",
    ),
    "capture settings from the environment": (
        lambda p: (
            capture(p)
            .setdefault("env", [])
            .append({"name": "KUMA_TRANSPARENT_PROXY_REDIRECT_INBOUND_ENABLED", "value": "false"})
        ),
        lambda p: f"{path_of(p, capture(p)['name'])}.env[{len(capture(p)['env']) - 1}]",
    ),
    "init: the sidecar's user moved away from the exempt UID": (
        lambda p: container(p, "kuma-sidecar")["securityContext"].update(runAsUser=1500),
        lambda p: f"{path_of(p, 'kuma-sidecar')}.securityContext.runAsUser",
    ),
    "init: the exempt UID moved, and the app runs as it": (
        both(
            set_arg("--kuma-dp-user", "1500"),
            lambda p: container(p, "kuma-sidecar")["securityContext"].update(runAsUser=1500),
            app(runAsUser=1500),
        ),
        lambda p: f"{path_of(p, 'web')}.securityContext.runAsUser",
    ),
    "the app runs as the sidecar's UID": (
        app(runAsUser=5678),
        lambda p: f"{path_of(p, 'web')}.securityContext.runAsUser",
    ),
    "an app init container runs as the sidecar's UID": (
        lambda p: p["spec"]["initContainers"].append(
            {"name": "migrate", "image": "busybox:1.36", "securityContext": {"runAsUser": 5678}}
        ),
        lambda p: (
            f"spec.initContainers[{len(p['spec']['initContainers']) - 1}].securityContext.runAsUser"
        ),
    ),
    "the pod runs as the sidecar's UID": (
        lambda p: p["spec"].setdefault("securityContext", {}).update(runAsUser=5678),
        lambda p: "spec.securityContext.runAsUser",
    ),
    "cni: not marked injected, so Kuma CNI captures nothing": (
        lambda p: p["metadata"]["annotations"].pop("kuma.io/sidecar-injected"),
        lambda p: 'metadata.annotations["kuma.io/sidecar-injected"]',
    ),
    "the workload moves itself to another mesh": (
        lambda p: p["metadata"]["labels"].update({"kuma.io/mesh": "shadow"}),
        lambda p: 'metadata.labels["kuma.io/mesh"]',
    ),
    "the readiness exclusion widened to an app port": (
        lambda p: p["metadata"]["annotations"].update(
            {"traffic.kuma.io/exclude-inbound-ports": "9902,8080"}
        ),
        lambda p: 'metadata.annotations["traffic.kuma.io/exclude-inbound-ports"]',
    ),
    "the app may rewrite iptables (NET_ADMIN)": (
        app(capabilities={"add": ["NET_ADMIN"]}),
        lambda p: f"{path_of(p, 'web')}.securityContext.capabilities.add[0]",
    ),
    "the app may craft packets (NET_RAW)": (
        app(capabilities={"add": ["NET_RAW"]}),
        lambda p: f"{path_of(p, 'web')}.securityContext.capabilities.add[0]",
    ),
}


def env(name: str) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    return lambda pod: container(pod, name).setdefault("env", [])


def annotate(key: str, value: str) -> Mutation:
    return lambda p: p["metadata"]["annotations"].update({key: value})


def annotation_path(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda p: f'metadata.annotations["{key}"]'


CONSUL_TPROXY = "consul.hashicorp.com/transparent-proxy"
CONSUL_REDIRECT = "CONSUL_REDIRECT_TRAFFIC_CONFIG"
CONSUL_DENIED: dict[str, tuple[Mutation, Callable[[dict[str, Any]], str]]] = {
    "no dataplane (the injector skipped it)": (
        remove("consul-dataplane"),
        lambda p: "spec.containers",
    ),
    "a look-alike dataplane image": (
        lambda p: container(p, "consul-dataplane").update(
            image="docker.io/attacker/consul-dataplane:2.0.3"
        ),
        lambda p: "spec.containers",
    ),
    "no connect-inject init": (
        remove("consul-connect-inject-init"),
        lambda p: "spec.initContainers",
    ),
    "the init runs another program": (
        lambda p: capture(p).update(command=["/bin/sh", "-ec", "true"]),
        lambda p: f"{path_of(p, capture(p)['name'])}.command",
    ),
    "init: nothing sets up the redirection": (
        lambda p: env("consul-connect-inject-init")(p).__setitem__(
            slice(None),
            [e for e in env("consul-connect-inject-init")(p) if e["name"] != CONSUL_REDIRECT],
        ),
        lambda p: "spec.initContainers",
    ),
    "cni: nothing sets up the redirection": (
        lambda p: p["metadata"]["annotations"].pop("consul.hashicorp.com/redirect-traffic-config"),
        lambda p: "spec.initContainers",
    ),
    "injected without transparent proxy": (
        lambda p: p["metadata"]["annotations"].pop("consul.hashicorp.com/transparent-proxy-status"),
        annotation_path("consul.hashicorp.com/transparent-proxy-status"),
    ),
    "transparent proxy turned off on the pod": (
        annotate(CONSUL_TPROXY, "false"),
        annotation_path(CONSUL_TPROXY),
    ),
    "the pod opts out of injection": (
        annotate("consul.hashicorp.com/connect-inject", "false"),
        annotation_path("consul.hashicorp.com/connect-inject"),
    ),
    "outbound addresses left out": (
        annotate("consul.hashicorp.com/transparent-proxy-exclude-outbound-cidrs", "10.0.0.0/8"),
        annotation_path("consul.hashicorp.com/transparent-proxy-exclude-outbound-cidrs"),
    ),
    "an app port left out inbound": (
        annotate("consul.hashicorp.com/transparent-proxy-exclude-inbound-ports", "8080"),
        annotation_path("consul.hashicorp.com/transparent-proxy-exclude-inbound-ports"),
    ),
    "the dataplane's user moved away from the exempt UID": (
        lambda p: container(p, "consul-dataplane")["securityContext"].update(runAsUser=1500),
        lambda p: f"{path_of(p, 'consul-dataplane')}.securityContext.runAsUser",
    ),
    "the app runs as the dataplane's UID": (
        app(runAsUser=5995),
        lambda p: f"{path_of(p, 'web')}.securityContext.runAsUser",
    ),
    "the app runs as the init's UID, which capture lets through": (
        app(runAsUser=5996),
        lambda p: f"{path_of(p, 'web')}.securityContext.runAsUser",
    ),
    "the pod runs as the dataplane's UID": (
        lambda p: p["spec"].setdefault("securityContext", {}).update(runAsUser=5995),
        lambda p: "spec.securityContext.runAsUser",
    ),
    "the app may rewrite iptables (NET_ADMIN)": (
        app(capabilities={"add": ["NET_ADMIN"]}),
        lambda p: f"{path_of(p, 'web')}.securityContext.capabilities.add[0]",
    ),
    "the app may craft packets (NET_RAW)": (
        app(capabilities={"add": ["NET_RAW"]}),
        lambda p: f"{path_of(p, 'web')}.securityContext.capabilities.add[0]",
    ),
    "the pod on the host's network": (
        lambda p: p["spec"].update(hostNetwork=True),
        lambda p: "spec.hostNetwork",
    ),
}

CONSUL_COMPLIANT: dict[str, Mutation] = {
    "transparent proxy stated on the pod": annotate(CONSUL_TPROXY, "true"),
    "the dataplane as a native sidecar, asked by the pod": annotate(
        "consul.hashicorp.com/enable-consul-dataplane-as-sidecar", "true"
    ),
    "the pod in the dataplane's group": lambda p: (
        p["spec"].setdefault("securityContext", {}).update(runAsGroup=5995)
    ),
    "CONSUL_ settings in the app's own environment": lambda p: (
        container(p, "web")
        .setdefault("env", [])
        .append({"name": "CONSUL_HTTP_ADDR", "value": "consul-server.consul.svc:8500"})
    ),
    "an app init container with its own UID": lambda p: p["spec"]["initContainers"].insert(
        0, {"name": "migrate", "image": "busybox:1.36", "securityContext": {"runAsUser": 5997}}
    ),
}


def mutated(path: Path, mutation: Mutation) -> Review:
    review = load(path)
    mutation(review["request"]["object"])
    return review


@pytest.mark.parametrize("path", INJECTED, ids=lambda p: p.stem)
def test_what_the_injector_writes_is_admitted(engines: dict[str, PolicyEngine], path: Path) -> None:
    assert judge(engines, load(path)) == []


@pytest.mark.parametrize(
    ("path", "mutation", "where"),
    [
        *cases(ISTIO, ISTIO_DENIED),
        *cases(LINKERD, LINKERD_DENIED),
        *cases(KUMA, KUMA_DENIED),
        *cases(CONSUL, CONSUL_DENIED),
    ],
)
def test_each_weakening_of_the_injected_pod_is_denied_naming_the_field(
    engines: dict[str, PolicyEngine],
    path: Path,
    mutation: Mutation,
    where: Callable[[dict[str, Any]], str],
) -> None:
    review = mutated(path, mutation)
    found = judge(engines, review)
    expected = where(review["request"]["object"])
    assert any(f.endswith(f":{expected}") for f in found), (expected, found)


COMPLIANT: dict[str, Mutation] = {
    "an app with an ordinary capability": app(capabilities={"add": ["NET_BIND_SERVICE"]}),
    "an app with its own user and group": app(runAsUser=1000, runAsGroup=1000),
    "an app with SYS_ADMIN but not the host's PIDs": app(capabilities={"add": ["SYS_ADMIN"]}),
}


KUMA_COMPLIANT: dict[str, Mutation] = {
    "the init names the sidecar's default UID": set_arg("--kuma-dp-user", "5678"),
    "the init drops invalid packets and logs": append_arg(
        "--drop-invalid-packets", "--iptables-logs"
    ),
    "a gateway annotation that is off": lambda p: p["metadata"]["annotations"].update(
        {"kuma.io/gateway": "disabled"}
    ),
    "KUMA_ settings in the app's own environment": lambda p: (
        container(p, "web")
        .setdefault("env", [])
        .append({"name": "KUMA_URL", "value": "http://kuma.example"})
    ),
    "an app init container with its own UID": lambda p: p["spec"]["initContainers"].append(
        {"name": "migrate", "image": "busybox:1.36", "securityContext": {"runAsUser": 5679}}
    ),
    "the pod in the sidecar's group": lambda p: (
        p["spec"].setdefault("securityContext", {}).update(runAsGroup=5678)
    ),
}


@pytest.mark.parametrize(
    ("path", "mutation"),
    [
        *(
            pytest.param(path, mutation, id=f"{path.stem}-{name}")
            for path in INJECTED
            for name, mutation in COMPLIANT.items()
        ),
        *(
            pytest.param(path, mutation, id=f"{path.stem}-{name}")
            for path in KUMA
            for name, mutation in KUMA_COMPLIANT.items()
            if not (name.startswith("the init") and "cni" in path.name)
        ),
        *(
            pytest.param(path, mutation, id=f"{path.stem}-{name}")
            for path in CONSUL
            for name, mutation in CONSUL_COMPLIANT.items()
        ),
    ],
)
def test_harmless_variants_of_the_injected_pod_stay_allowed(
    engines: dict[str, PolicyEngine], path: Path, mutation: Mutation
) -> None:
    assert judge(engines, mutated(path, mutation)) == []


def test_an_exemption_the_spec_grants_reaches_the_capture_flag_it_becomes(
    engines: dict[str, PolicyEngine],
) -> None:
    # The sample spec grants excludeOutboundIPRanges to app=legacy in mesh-demo.
    path = SAMPLES / "injection-required" / "allowed" / "istio-injected-native-sidecar.yaml"

    def legacy(pod: dict[str, Any]) -> None:
        pod["metadata"]["labels"]["app"] = "legacy"
        pod["metadata"]["annotations"]["traffic.sidecar.istio.io/excludeOutboundIPRanges"] = (
            "10.0.0.0/8"
        )
        set_flag(capture(pod)["args"], "-x", "10.0.0.0/8")

    assert judge(engines, mutated(path, legacy)) == []
    other = copy.deepcopy(mutated(path, legacy))
    other["request"]["object"]["metadata"]["labels"]["app"] = "web"
    assert judge(engines, other) != []


def test_a_kuma_exemption_reaches_the_capture_flag_it_becomes(
    engines: dict[str, PolicyEngine],
) -> None:
    # The sample spec grants exclude-outbound-ips to app=legacy in kuma-demo.
    path = next(p for p in KUMA if "cni" not in p.name)

    def legacy(pod: dict[str, Any]) -> None:
        pod["metadata"]["labels"]["app"] = "legacy"
        pod["metadata"]["annotations"]["traffic.kuma.io/exclude-outbound-ips"] = "10.20.0.0/16"
        set_arg("--exclude-outbound-ips", "10.20.0.0/16")(pod)

    assert judge(engines, mutated(path, legacy)) == []
    other = copy.deepcopy(mutated(path, legacy))
    other["request"]["object"]["metadata"]["labels"]["app"] = "web"
    assert judge(engines, other) != []


# What consul-k8s's injector writes on a pod it injects (mesh_webhook.go, Handle);
# a Pod manifest in git carries none of it.
CONSUL_INJECTOR_WRITTEN = (
    "consul.hashicorp.com/connect-inject-status",
    "consul.hashicorp.com/transparent-proxy-status",
    "consul.hashicorp.com/consul-k8s-version",
    "consul.hashicorp.com/original-pod",
    "consul.hashicorp.com/redirect-traffic-config",
    "consul.hashicorp.com/connect-inject-managed-by",
)


def test_the_same_pod_judged_offline_is_judged_by_intent_only(
    engines: dict[str, PolicyEngine],
) -> None:
    # `meshc check` sees manifests before any injector ran: a Pod without a
    # proxy is what a Pod manifest in git looks like.
    for path in INJECTED:
        review = mutated(
            path,
            both(
                remove(proxy(path.name.partition("-")[0])),
                remove("istio-init"),
                remove("istio-validation"),
                remove("linkerd-init"),
                remove("linkerd-network-validator"),
                remove("kuma-init"),
                remove("kuma-validation"),
                remove("consul-connect-inject-init"),
            ),
        )
        metadata = review["request"]["object"]["metadata"]
        for key in [
            k
            for k in metadata["annotations"]
            if k.startswith(("traffic.sidecar.istio.io/", "traffic.kuma.io/"))
            or k in CONSUL_INJECTOR_WRITTEN
        ]:
            del metadata["annotations"][key]  # written by the injector
        for key in CONSUL_INJECTOR_WRITTEN:
            metadata["labels"].pop(key, None)
        review["request"]["meshc.io/offline"] = True
        assert judge(engines, review) == [], path.name


def subresource_update(path: Path, mutation: Mutation, subresource: str) -> Review:
    review = load(path)
    old = copy.deepcopy(review["request"]["object"])
    mutation(review["request"]["object"])
    review["request"].update(operation="UPDATE", subResource=subresource, oldObject=old)
    return review


DEBUG = {"name": "debugger", "image": "busybox:1.36", "targetContainerName": "web"}


@pytest.mark.parametrize("path", INJECTED, ids=lambda p: p.stem)
@pytest.mark.parametrize(
    ("name", "security", "denied"),
    [
        ("netadmin profile", {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}}, True),
        ("as the proxy's UID", {"runAsUser": 1337}, "istio"),
        ("as Linkerd's proxy UID", {"runAsUser": 2102}, "linkerd"),
        ("as Kuma's sidecar UID", {"runAsUser": 5678}, "kuma"),
        ("as Consul's dataplane UID", {"runAsUser": 5995}, "consul"),
        ("as the UID of Consul's init", {"runAsUser": 5996}, "consul"),
        (
            "restricted profile",
            {
                "allowPrivilegeEscalation": False,
                "runAsNonRoot": True,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            False,
        ),
    ],
)
def test_an_ephemeral_container_is_judged_by_what_it_adds(
    engines: dict[str, PolicyEngine],
    path: Path,
    name: str,
    security: dict[str, Any],
    denied: bool | str,
) -> None:
    def debug(pod: dict[str, Any]) -> None:
        pod["spec"]["ephemeralContainers"] = [{**DEBUG, "securityContext": security}]

    found = judge(engines, subresource_update(path, debug, "ephemeralcontainers"))
    expected = denied is True or denied == path.name.partition("-")[0]
    assert bool(found) is expected, found
    assert all("ephemeralContainers[0]" in f for f in found)


def test_a_status_update_of_a_pod_that_predates_the_mesh_is_not_blocked(
    engines: dict[str, PolicyEngine],
) -> None:
    # The kubelet reports the status of every pod; one created before its
    # namespace joined the mesh has no proxy, and that is no news.
    unmeshed = mutated(ISTIO[0], both(remove("istio-proxy"), remove("istio-init")))
    review = subresource_update(ISTIO[0], lambda p: p.update(status={"phase": "Running"}), "status")
    review["request"]["object"] = {**unmeshed["request"]["object"], "status": {"phase": "Running"}}
    review["request"]["oldObject"] = unmeshed["request"]["object"]
    assert judge(engines, review) == []


def test_an_inbound_policy_written_through_the_status_subresource_is_denied(
    engines: dict[str, PolicyEngine],
) -> None:
    # Linkerd's proxy reads the pod's annotations at run time.
    path = next(p for p in LINKERD if "native" in p.name)

    def annotate(pod: dict[str, Any]) -> None:
        pod["metadata"]["annotations"]["config.linkerd.io/default-inbound-policy"] = (
            "all-unauthenticated"
        )

    found = judge(engines, subresource_update(path, annotate, "status"))
    assert found == ['mtls-strict:metadata.annotations["config.linkerd.io/default-inbound-policy"]']
