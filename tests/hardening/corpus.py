"""The ways people escape a mesh, and compliant objects that look like them.

Every :data:`BYPASSES` case must be denied and every :data:`LOOKALIKES` case
allowed, by the webhook serving ``policies/samples/specs/<provider>.yaml``
(meshed and allowed: ``mesh-demo`` on Istio, ``l5d-demo`` on Linkerd; the
Istio spec grants ``traffic.sidecar.istio.io/excludeOutboundIPRanges`` to
``app: legacy``). Each case is an AdmissionReview as the API server sends it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.api_server import (
    TEMPLATE_PATH,
    WORKLOAD_KINDS,
    namespace,
    peer_authentication,
    review,
    workload,
)

ISTIO_NS, LINKERD_NS = "mesh-demo", "l5d-demo"
SPECS = Path(__file__).resolve().parents[2] / "tests" / "policies" / "samples" / "specs"
ISTIO_PROXY_IMAGE = "docker.io/istio/proxyv2:1.24.2"
LINKERD_PROXY_IMAGE = "cr.l5d.io/linkerd/proxy:edge-24.11.8"
ISTIO_UID, LINKERD_UID = 1337, 2102
# What a label value may be (Kubernetes' validation, IsValidLabelValue).
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")

Review = dict[str, Any]


@dataclass(frozen=True)
class Case:
    name: str
    provider: str  # istio | linkerd: which spec judges it
    review: Review


def _ns(provider: str) -> str:
    return ISTIO_NS if provider == "istio" else LINKERD_NS


def pod_of(obj: dict[str, Any]) -> dict[str, Any]:
    """The pod (template) inside a workload object, to edit in place."""
    node = obj
    for key in TEMPLATE_PATH[obj["kind"]]:
        node = node[key]
    return node


def deployment(
    provider: str, edit: Callable[[dict[str, Any]], None] | None = None, kind: str = "Deployment"
) -> Review:
    """A CREATE of ``kind`` in the provider's meshed namespace, its pod edited by ``edit``.

    A workload's selector follows its pod's ``app`` label, so the object stays
    one an API server accepts.
    """
    obj = workload(kind, namespace=_ns(provider))
    if edit:
        edit(pod_of(obj))
    app = pod_of(obj)["metadata"].get("labels", {}).get("app")
    selector = obj.get("spec", {}).get("selector")
    if isinstance(selector, dict) and app:
        if "matchLabels" in selector:
            selector["matchLabels"]["app"] = app
        else:
            selector["app"] = app
    return review(obj)


def annotate(**annotations: str) -> Callable[[dict[str, Any]], None]:
    def edit(pod: dict[str, Any]) -> None:
        pod["metadata"].setdefault("annotations", {}).update(annotations)

    return edit


def label(**labels: str) -> Callable[[dict[str, Any]], None]:
    def edit(pod: dict[str, Any]) -> None:
        pod["metadata"].setdefault("labels", {}).update(labels)

    return edit


def both(*edits: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def edit(pod: dict[str, Any]) -> None:
        for e in edits:
            e(pod)

    return edit


def pod_spec(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def edit(pod: dict[str, Any]) -> None:
        pod["spec"].update(copy.deepcopy(fields))

    return edit


def app_security(**context: Any) -> Callable[[dict[str, Any]], None]:
    def edit(pod: dict[str, Any]) -> None:
        pod["spec"]["containers"][0]["securityContext"] = copy.deepcopy(context)

    return edit


def add_container(
    field: str, name: str, image: str, **extra: Any
) -> Callable[[dict[str, Any]], None]:
    def edit(pod: dict[str, Any]) -> None:
        pod["spec"].setdefault(field, []).append(
            {"name": name, "image": image, **copy.deepcopy(extra)}
        )

    return edit


def k(*keys: str) -> str:
    """Annotation keys as Python identifiers cannot spell them."""
    return "/".join(keys)


# Istio injects only for y/yes/true/on (lower-cased); releases before that
# took Go's ParseBool. Every other spelling is an opt-out somewhere.
ISTIO_OPT_OUTS = (
    "false",
    "False",
    "FALSE",
    "no",
    "NO",
    "n",
    "N",
    "off",
    "OFF",
    "0",
    "f",
    "F",
    "disabled",
    "never",
    "",
    " true",
    "true ",
)
ISTIO_OPT_INS = ("true", "True", "TRUE", "yes", "YES", "y", "Y", "on", "ON")
LINKERD_OPT_OUTS = ("disabled", "Disabled", "false", "no", "off", "", "Enabled", "enabled ")
ISTIO_CAPTURE_EXCLUSIONS = {
    "traffic.sidecar.istio.io/excludeInboundPorts": "8080",
    "traffic.sidecar.istio.io/excludeOutboundPorts": "5432",
    "traffic.sidecar.istio.io/excludeOutboundIPRanges": "0.0.0.0/0",
    "traffic.sidecar.istio.io/excludeInterfaces": "eth0",
    "traffic.sidecar.istio.io/kubevirtInterfaces": "net1",
    "traffic.sidecar.istio.io/includeInboundPorts": "",
    "traffic.sidecar.istio.io/includeOutboundIPRanges": "10.96.0.0/12",
}
LINKERD_CAPTURE_EXCLUSIONS = {
    "config.linkerd.io/skip-inbound-ports": "8080",
    "config.linkerd.io/skip-outbound-ports": "5432,3306",
    "config.linkerd.io/skip-subnets": "0.0.0.0/0",
}
NET_ADMIN_SPELLINGS = ("NET_ADMIN", "CAP_NET_ADMIN", "net_admin", "ALL")
SPLIT_TLS_LEVELS = ("top", "port", "subset", "subset-port")


def destination_rule(level: str, mode: str) -> Review:
    tls = {"tls": {"mode": mode}}
    spec: dict[str, Any] = {"host": "web.mesh-demo.svc.cluster.local"}
    if level == "top":
        spec["trafficPolicy"] = tls
    elif level == "port":
        spec["trafficPolicy"] = {"portLevelSettings": [{"port": {"number": 80}, **tls}]}
    elif level == "subset":
        spec["subsets"] = [{"name": "v1", "labels": {"version": "v1"}, "trafficPolicy": tls}]
    else:
        spec["subsets"] = [
            {
                "name": "v1",
                "labels": {"version": "v1"},
                "trafficPolicy": {"portLevelSettings": [{"port": {"number": 80}, **tls}]},
            }
        ]
    return review(
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": "web", "namespace": ISTIO_NS},
            "spec": spec,
        }
    )


def peer_auth(
    spec: dict[str, Any],
    ns: str = ISTIO_NS,
    name: str = "default",
    operation: str = "CREATE",
    old_spec: dict[str, Any] | None = None,
) -> Review:
    def obj(s: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": {"name": name, "namespace": ns},
            "spec": s,
        }

    old = obj(old_spec) if old_spec is not None else None
    return review(obj(spec), operation, old=old)


def authorization(
    rules: list[dict[str, Any]], ns: str = ISTIO_NS, action: str | None = None
) -> Review:
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": "web"}}, "rules": rules}
    if action:
        spec["action"] = action
    return review(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "web", "namespace": ns},
            "spec": spec,
        }
    )


def from_source(**source: Any) -> list[dict[str, Any]]:
    return [{"from": [{"source": source}], "to": [{"operation": {"ports": ["5678"]}}]}]


def namespace_update(
    provider: str, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None
) -> Review:
    name = _ns(provider)
    if provider == "istio":
        old = namespace(name, labels={"istio-injection": "enabled"})
    else:
        old = namespace(
            name,
            annotations={
                "linkerd.io/inject": "enabled",
                "config.linkerd.io/default-inbound-policy": "all-authenticated",
            },
        )
    return review(namespace(name, labels, annotations), "UPDATE", old=old)


def _bypasses() -> Iterator[Case]:
    # -- opting out of injection, every spelling, label and annotation -------------------
    for value in ISTIO_OPT_OUTS:
        if LABEL_VALUE.fullmatch(value):  # a label cannot carry blanks: an annotation can
            yield Case(
                f"istio label sidecar.istio.io/inject={value!r}",
                "istio",
                deployment("istio", label(**{"sidecar.istio.io/inject": value})),
            )
        yield Case(
            f"istio annotation sidecar.istio.io/inject={value!r}",
            "istio",
            deployment("istio", annotate(**{"sidecar.istio.io/inject": value})),
        )
    for value in LINKERD_OPT_OUTS:
        yield Case(
            f"linkerd annotation linkerd.io/inject={value!r}",
            "linkerd",
            deployment("linkerd", annotate(**{"linkerd.io/inject": value})),
        )
    # The label wins over the annotation: an opt-out label beats an opt-in annotation.
    yield Case(
        "istio opt-out label over an opt-in annotation",
        "istio",
        deployment(
            "istio",
            both(
                label(**{"sidecar.istio.io/inject": "false"}),
                annotate(**{"sidecar.istio.io/inject": "true"}),
            ),
        ),
    )
    # -- a meshed Namespace that stops injecting --------------------------------------------
    for value in ("disabled", "false", "Enabled", "off"):
        yield Case(
            f"istio Namespace UPDATE istio-injection={value!r}",
            "istio",
            namespace_update("istio", labels={"istio-injection": value}),
        )
        yield Case(
            f"linkerd Namespace UPDATE linkerd.io/inject={value!r}",
            "linkerd",
            namespace_update("linkerd", annotations={"linkerd.io/inject": value}),
        )
    yield Case(
        "istio Namespace UPDATE that strips istio-injection",
        "istio",
        namespace_update("istio", labels={}),
    )
    yield Case(
        "istio Namespace UPDATE istio-injection=disabled beside istio.io/rev",
        "istio",
        namespace_update("istio", labels={"istio-injection": "disabled", "istio.io/rev": "canary"}),
    )
    yield Case(
        "linkerd Namespace UPDATE that strips linkerd.io/inject",
        "linkerd",
        namespace_update("linkerd", annotations={}),
    )
    # -- look-alike mesh containers added by the application ----------------------------------
    lookalikes = [
        (
            "istio",
            "containers",
            "istio-proxy",
            "evil.example/proxyv2:1.24.2",
            {"runAsUser": ISTIO_UID},
        ),
        (
            "istio",
            "containers",
            "istio-proxy",
            "docker.io/istio/proxyv2-debug:1.24.2",
            {"runAsUser": ISTIO_UID},
        ),
        (
            "istio",
            "containers",
            "istio-proxy",
            "docker.io/istio/proxyv2x:1.24.2",
            {"capabilities": {"add": ["NET_ADMIN"]}},
        ),
        (
            "istio",
            "initContainers",
            "istio-init",
            "busybox:1.36",
            {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
        ),
        ("istio", "initContainers", "istio-validation", "busybox:1.36", {"privileged": True}),
        (
            "istio",
            "initContainers",
            "istio-proxy",
            "busybox:1.36",
            {"runAsUser": ISTIO_UID},
        ),  # native sidecar
        (
            "linkerd",
            "containers",
            "linkerd-proxy",
            "evil.example/proxy:edge",
            {"runAsUser": LINKERD_UID},
        ),
        (
            "linkerd",
            "initContainers",
            "linkerd-init",
            "busybox:1.36",
            {"capabilities": {"add": ["NET_ADMIN"]}},
        ),
        (
            "linkerd",
            "initContainers",
            "linkerd-network-validator",
            "busybox:1.36",
            {"privileged": True},
        ),
    ]
    for provider, field, name, image, context in lookalikes:
        yield Case(
            f"{provider} look-alike {field} {name!r} image {image!r} {context}",
            provider,
            deployment(provider, add_container(field, name, image, securityContext=context)),
        )
    # -- the node's network ----------------------------------------------------------------
    for provider in ("istio", "linkerd"):
        yield Case(
            f"{provider} hostNetwork", provider, deployment(provider, pod_spec(hostNetwork=True))
        )
    # -- traffic-capture exclusions ------------------------------------------------------------
    for key, value in ISTIO_CAPTURE_EXCLUSIONS.items():
        yield Case(f"istio {key}={value!r}", "istio", deployment("istio", annotate(**{key: value})))
    yield Case(
        "istio exemption granted to app=legacy used by app=web",
        "istio",
        deployment(
            "istio", annotate(**{"traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.0.0.0/8"})
        ),
    )
    yield Case(
        "istio CNI-style port exclusion without a genuine proxy",
        "istio",
        deployment(
            "istio",
            both(
                annotate(**{"traffic.sidecar.istio.io/excludeInboundPorts": "15020,15021,15090"}),
                add_container("containers", "istio-proxy", "evil.example/proxyv2:1"),
            ),
        ),
    )
    for key, value in LINKERD_CAPTURE_EXCLUSIONS.items():
        yield Case(
            f"linkerd {key}={value!r}", "linkerd", deployment("linkerd", annotate(**{key: value}))
        )
    # -- the proxy's group (Istio), interception off, a moved Linkerd proxy UID -----------------
    yield Case(
        "istio pod runAsGroup 1337",
        "istio",
        deployment("istio", pod_spec(securityContext={"runAsGroup": ISTIO_UID})),
    )
    yield Case(
        "istio container runAsGroup 1337",
        "istio",
        deployment("istio", app_security(runAsGroup=ISTIO_UID)),
    )
    for mode in ("NONE", "none", "None"):
        yield Case(
            f"istio sidecar.istio.io/interceptionMode={mode!r}",
            "istio",
            deployment("istio", annotate(**{"sidecar.istio.io/interceptionMode": mode})),
        )
    yield Case(
        "linkerd config.linkerd.io/proxy-uid moved to the application's UID",
        "linkerd",
        deployment(
            "linkerd",
            both(annotate(**{"config.linkerd.io/proxy-uid": "1000"}), app_security(runAsUser=1000)),
        ),
    )
    # -- the proxy's UID, pod and container level ------------------------------------------------
    for provider, uid in (("istio", ISTIO_UID), ("linkerd", LINKERD_UID)):
        yield Case(
            f"{provider} pod runAsUser {uid}",
            provider,
            deployment(provider, pod_spec(securityContext={"runAsUser": uid})),
        )
        yield Case(
            f"{provider} container runAsUser {uid}",
            provider,
            deployment(provider, app_security(runAsUser=uid)),
        )
        yield Case(
            f"{provider} init container runAsUser {uid}",
            provider,
            deployment(
                provider,
                add_container(
                    "initContainers", "setup", "busybox:1.36", securityContext={"runAsUser": uid}
                ),
            ),
        )
        yield Case(
            f"{provider} pod runAsUser {uid}, container overrides with {uid}",
            provider,
            deployment(
                provider,
                both(pod_spec(securityContext={"runAsUser": 1000}), app_security(runAsUser=uid)),
            ),
        )
    # -- NET_ADMIN ----------------------------------------------------------------------------
    for spelling in NET_ADMIN_SPELLINGS:
        yield Case(
            f"istio capability {spelling}",
            "istio",
            deployment("istio", app_security(capabilities={"add": [spelling]})),
        )
    yield Case(
        "istio privileged container", "istio", deployment("istio", app_security(privileged=True))
    )
    yield Case(
        "linkerd capability NET_ADMIN",
        "linkerd",
        deployment("linkerd", app_security(capabilities={"add": ["NET_ADMIN"]})),
    )
    # An ephemeral container added to a running Pod (kubectl debug).
    pod = workload("Pod", namespace=ISTIO_NS)
    debugged = copy.deepcopy(pod)
    debugged["spec"]["ephemeralContainers"] = [
        {
            "name": "debug",
            "image": "busybox:1.36",
            "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
        }
    ]
    r = review(debugged, "UPDATE", old=pod)
    r["request"]["subResource"] = "ephemeralcontainers"
    yield Case("istio ephemeral debug container with NET_ADMIN", "istio", r)
    # -- mTLS: PERMISSIVE and DISABLE however they are spelled --------------------------------
    yield Case(
        "istio PeerAuthentication PERMISSIVE", "istio", peer_auth({"mtls": {"mode": "PERMISSIVE"}})
    )
    yield Case(
        "istio PeerAuthentication DISABLE", "istio", peer_auth({"mtls": {"mode": "DISABLE"}})
    )
    yield Case(
        "istio mesh-wide PeerAuthentication PERMISSIVE",
        "istio",
        peer_auth({"mtls": {"mode": "PERMISSIVE"}}, ns="istio-system"),
    )
    yield Case(
        "istio PeerAuthentication PERMISSIVE for a workload selector",
        "istio",
        peer_auth(
            {"selector": {"matchLabels": {"app": "web"}}, "mtls": {"mode": "PERMISSIVE"}},
            name="web",
        ),
    )
    for mode in ("PERMISSIVE", "DISABLE", "UNSET"):
        yield Case(
            f"istio PeerAuthentication portLevelMtls {mode}",
            "istio",
            peer_auth(
                {
                    "selector": {"matchLabels": {"app": "web"}},
                    "mtls": {"mode": "STRICT"},
                    "portLevelMtls": {"5678": {"mode": mode}},
                },
                name="web",
            ),
        )
    yield Case(
        "istio PeerAuthentication UPDATE STRICT -> PERMISSIVE",
        "istio",
        peer_auth(
            {"mtls": {"mode": "PERMISSIVE"}},
            operation="UPDATE",
            old_spec={"mtls": {"mode": "STRICT"}},
        ),
    )
    yield Case(
        "istio DELETE of the STRICT PeerAuthentication meshc renders",
        "istio",
        review(peer_authentication("STRICT", managed="samples"), "DELETE"),
    )
    for level in SPLIT_TLS_LEVELS:
        yield Case(
            f"istio DestinationRule tls DISABLE at {level} level",
            "istio",
            destination_rule(level, "DISABLE"),
        )
    for value in ("all-unauthenticated", "cluster-unauthenticated", "audit"):
        yield Case(
            f"linkerd pod default-inbound-policy {value}",
            "linkerd",
            deployment("linkerd", annotate(**{"config.linkerd.io/default-inbound-policy": value})),
        )
    yield Case(
        "linkerd Namespace UPDATE default-inbound-policy all-unauthenticated",
        "linkerd",
        namespace_update(
            "linkerd",
            annotations={
                "linkerd.io/inject": "enabled",
                "config.linkerd.io/default-inbound-policy": "all-unauthenticated",
            },
        ),
    )
    # -- AuthorizationPolicy opened to other namespaces ---------------------------------------
    opened = {
        "a rule with no from": [{"to": [{"operation": {"ports": ["5678"]}}]}],
        "an empty rule": [{}],
        "an empty source": from_source(),
        "another namespace": from_source(namespaces=["other"]),
        "every namespace": from_source(namespaces=["*"]),
        "a namespace prefix": from_source(namespaces=["mesh-*"]),
        "an allowed and another namespace": from_source(namespaces=["mesh-demo", "other"]),
        "every principal": from_source(principals=["*"]),
        "a principal of another namespace": from_source(
            principals=["cluster.local/ns/other/sa/app"]
        ),
        "a principal prefix": from_source(principals=["cluster.local/ns/mesh-demo*"]),
        "notNamespaces only": from_source(notNamespaces=["mesh-demo"]),
        "ipBlocks only": from_source(ipBlocks=["0.0.0.0/0"]),
        "requestPrincipals only": from_source(requestPrincipals=["*"]),
    }
    for what, rules in opened.items():
        yield Case(f"istio AuthorizationPolicy ALLOW from {what}", "istio", authorization(rules))
    yield Case(
        "istio mesh-wide AuthorizationPolicy ALLOW from another namespace",
        "istio",
        authorization(from_source(namespaces=["other"]), ns="istio-system"),
    )
    # -- every pod-template kind carries the same bypasses --------------------------------------
    template_bypasses = {
        "opt-out": label(**{"sidecar.istio.io/inject": "false"}),
        "hostNetwork": pod_spec(hostNetwork=True),
        "proxy UID": app_security(runAsUser=ISTIO_UID),
        "NET_ADMIN": app_security(capabilities={"add": ["NET_ADMIN"]}),
        "capture exclusion": annotate(
            **{"traffic.sidecar.istio.io/excludeOutboundIPRanges": "0.0.0.0/0"}
        ),
    }
    for kind in WORKLOAD_KINDS:
        for what, edit in template_bypasses.items():
            yield Case(f"istio {kind} {what}", "istio", deployment("istio", edit, kind=kind))
        yield Case(
            f"linkerd {kind} opt-out",
            "linkerd",
            deployment("linkerd", annotate(**{"linkerd.io/inject": "disabled"}), kind=kind),
        )
        yield Case(f"istio {kind} UPDATE to hostNetwork", "istio", _update(kind))


def _update(kind: str) -> Review:
    old = workload(kind, namespace=ISTIO_NS)
    new = copy.deepcopy(old)
    pod_of(new)["spec"]["hostNetwork"] = True
    return review(new, "UPDATE", old=old)


def genuine_istio(pod: dict[str, Any]) -> None:
    """The containers Istio's injector adds, as it adds them."""
    pod["spec"]["initContainers"] = [
        {
            "name": "istio-init",
            "image": ISTIO_PROXY_IMAGE,
            "securityContext": {
                "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
                "runAsUser": 0,
            },
        }
    ]
    pod["spec"]["containers"].append(
        {
            "name": "istio-proxy",
            "image": ISTIO_PROXY_IMAGE,
            "securityContext": {
                "runAsUser": ISTIO_UID,
                "runAsGroup": ISTIO_UID,
                "capabilities": {"drop": ["ALL"]},
            },
        }
    )


def genuine_linkerd(pod: dict[str, Any]) -> None:
    pod["spec"]["initContainers"] = [
        {
            "name": "linkerd-init",
            "image": "cr.l5d.io/linkerd/proxy-init:v2.4.1",
            "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
        }
    ]
    pod["spec"]["containers"].append(
        {
            "name": "linkerd-proxy",
            "image": LINKERD_PROXY_IMAGE,
            "securityContext": {"runAsUser": LINKERD_UID},
        }
    )


def _lookalikes() -> Iterator[Case]:
    for mode in ("REDIRECT", "TPROXY"):
        yield Case(
            f"istio sidecar.istio.io/interceptionMode={mode!r}",
            "istio",
            deployment("istio", annotate(**{"sidecar.istio.io/interceptionMode": mode})),
        )
    yield Case(
        "istio container runAsGroup 1000",
        "istio",
        deployment("istio", app_security(runAsGroup=1000)),
    )
    yield Case(
        "linkerd config.linkerd.io/proxy-uid moved, the application on another UID",
        "linkerd",
        deployment(
            "linkerd",
            both(annotate(**{"config.linkerd.io/proxy-uid": "3000"}), app_security(runAsUser=1000)),
        ),
    )
    for value in ISTIO_OPT_INS:
        yield Case(
            f"istio label sidecar.istio.io/inject={value!r}",
            "istio",
            deployment("istio", label(**{"sidecar.istio.io/inject": value})),
        )
        yield Case(
            f"istio annotation sidecar.istio.io/inject={value!r}",
            "istio",
            deployment("istio", annotate(**{"sidecar.istio.io/inject": value})),
        )
    yield Case(
        "istio opt-in label over an opt-out annotation",
        "istio",
        deployment(
            "istio",
            both(
                label(**{"sidecar.istio.io/inject": "true"}),
                annotate(**{"sidecar.istio.io/inject": "false"}),
            ),
        ),
    )
    for value in ("enabled", "ingress"):
        yield Case(
            f"linkerd annotation linkerd.io/inject={value!r}",
            "linkerd",
            deployment("linkerd", annotate(**{"linkerd.io/inject": value})),
        )
    yield Case(
        "istio Namespace UPDATE keeping istio-injection=enabled",
        "istio",
        namespace_update("istio", labels={"istio-injection": "enabled", "team": "web"}),
    )
    yield Case(
        "linkerd Namespace UPDATE keeping linkerd.io/inject=enabled",
        "linkerd",
        namespace_update(
            "linkerd",
            annotations={
                "linkerd.io/inject": "enabled",
                "config.linkerd.io/default-inbound-policy": "all-authenticated",
            },
        ),
    )
    yield Case(
        "istio Namespace UPDATE to a revision label",
        "istio",
        namespace_update("istio", labels={"istio.io/rev": "canary"}),
    )
    yield Case(
        "linkerd Namespace UPDATE to ingress mode",
        "linkerd",
        namespace_update("linkerd", annotations={"linkerd.io/inject": "ingress"}),
    )
    yield Case(
        "istio DELETE of a meshed Namespace",
        "istio",
        review(namespace(ISTIO_NS, labels={"istio-injection": "enabled"}), "DELETE"),
    )
    yield Case(
        "istio unmeshed Namespace with istio-injection=disabled",
        "istio",
        review(namespace("batch", labels={"istio-injection": "disabled"})),
    )
    yield Case(
        "istio injected pod (genuine istio-init and istio-proxy)",
        "istio",
        deployment("istio", genuine_istio, kind="Pod"),
    )
    for image in (
        "docker.io/istio/proxyv2:1.24.2",
        "istio/proxyv2:1.22.0",
        "docker.io/istio/proxyv2@sha256:" + "0" * 64,
    ):
        yield Case(
            f"istio genuine istio-proxy image {image!r} as the proxy UID",
            "istio",
            deployment(
                "istio",
                add_container(
                    "containers", "istio-proxy", image, securityContext={"runAsUser": ISTIO_UID}
                ),
            ),
        )
    yield Case(
        "istio genuine native sidecar istio-proxy",
        "istio",
        deployment(
            "istio",
            add_container(
                "initContainers",
                "istio-proxy",
                ISTIO_PROXY_IMAGE,
                restartPolicy="Always",
                securityContext={"runAsUser": ISTIO_UID},
            ),
        ),
    )
    yield Case(
        "istio CNI port exclusion written by the injector",
        "istio",
        deployment(
            "istio",
            both(
                genuine_istio,
                annotate(**{"traffic.sidecar.istio.io/excludeInboundPorts": "15020,15021,15090"}),
            ),
        ),
    )
    yield Case(
        "linkerd injected pod (genuine linkerd-init and linkerd-proxy)",
        "linkerd",
        deployment("linkerd", genuine_linkerd, kind="Pod"),
    )
    yield Case("istio hostNetwork false", "istio", deployment("istio", pod_spec(hostNetwork=False)))
    yield Case(
        "istio empty exclusion annotation",
        "istio",
        deployment("istio", annotate(**{"traffic.sidecar.istio.io/excludeOutboundPorts": ""})),
    )
    for key in (
        "traffic.sidecar.istio.io/includeInboundPorts",
        "traffic.sidecar.istio.io/includeOutboundIPRanges",
    ):
        yield Case(f"istio {key}='*'", "istio", deployment("istio", annotate(**{key: "*"})))
    yield Case(
        "istio exemption used by the workload it is granted to",
        "istio",
        deployment(
            "istio",
            both(
                label(app="legacy"),
                annotate(**{"traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.0.0.0/8"}),
            ),
        ),
    )
    yield Case(
        "istio annotations unrelated to capture",
        "istio",
        deployment(
            "istio",
            annotate(
                **{
                    "prometheus.io/scrape": "true",
                    "sidecar.istio.io/proxyCPU": "100m",
                    "proxy.istio.io/config": "holdApplicationUntilProxyStarts: true",
                }
            ),
        ),
    )
    yield Case(
        "linkerd unrelated config annotations",
        "linkerd",
        deployment(
            "linkerd",
            annotate(
                **{
                    "config.linkerd.io/opaque-ports": "5432",
                    "config.linkerd.io/proxy-cpu-request": "100m",
                }
            ),
        ),
    )
    for provider, uid in (("istio", ISTIO_UID), ("linkerd", LINKERD_UID)):
        for other in (0, 1000, uid - 1, uid + 1):
            yield Case(
                f"{provider} runAsUser {other}",
                provider,
                deployment(
                    provider,
                    both(
                        pod_spec(securityContext={"runAsUser": other}),
                        app_security(runAsUser=other),
                    ),
                ),
            )
    yield Case(
        "istio capability NET_BIND_SERVICE",
        "istio",
        deployment("istio", app_security(capabilities={"add": ["NET_BIND_SERVICE"]})),
    )
    yield Case(
        "istio NET_ADMIN dropped",
        "istio",
        deployment("istio", app_security(capabilities={"drop": ["NET_ADMIN", "ALL"]})),
    )
    yield Case(
        "istio privileged false", "istio", deployment("istio", app_security(privileged=False))
    )
    yield Case(
        "istio hostNetwork in an exempt namespace",
        "istio",
        review(_in_namespace(workload("DaemonSet"), "kube-system", hostNetwork=True)),
    )
    yield Case(
        "istio plain pod outside the mesh", "istio", review(workload("Pod", namespace="batch"))
    )
    # mTLS kept
    yield Case("istio PeerAuthentication STRICT", "istio", peer_auth({"mtls": {"mode": "STRICT"}}))
    yield Case(
        "istio mesh-wide PeerAuthentication STRICT",
        "istio",
        peer_auth({"mtls": {"mode": "STRICT"}}, ns="istio-system"),
    )
    yield Case(
        "istio PeerAuthentication STRICT for a workload selector",
        "istio",
        peer_auth(
            {"selector": {"matchLabels": {"app": "web"}}, "mtls": {"mode": "STRICT"}}, name="web"
        ),
    )
    yield Case(
        "istio PeerAuthentication portLevelMtls STRICT",
        "istio",
        peer_auth(
            {
                "selector": {"matchLabels": {"app": "web"}},
                "mtls": {"mode": "STRICT"},
                "portLevelMtls": {"5678": {"mode": "STRICT"}},
            },
            name="web",
        ),
    )
    yield Case(
        "istio PeerAuthentication UPDATE PERMISSIVE -> STRICT",
        "istio",
        peer_auth(
            {"mtls": {"mode": "STRICT"}},
            operation="UPDATE",
            old_spec={"mtls": {"mode": "PERMISSIVE"}},
        ),
    )
    yield Case(
        "istio DELETE of a PeerAuthentication meshc does not manage",
        "istio",
        review(peer_authentication("STRICT"), "DELETE"),
    )
    yield Case(
        "istio DELETE of a PERMISSIVE PeerAuthentication",
        "istio",
        review(peer_authentication("PERMISSIVE"), "DELETE"),
    )
    for level in SPLIT_TLS_LEVELS:
        yield Case(
            f"istio DestinationRule tls ISTIO_MUTUAL at {level} level",
            "istio",
            destination_rule(level, "ISTIO_MUTUAL"),
        )
    yield Case(
        "istio DestinationRule tls SIMPLE at top level", "istio", destination_rule("top", "SIMPLE")
    )
    for value in ("all-authenticated", "cluster-authenticated", "deny"):
        yield Case(
            f"linkerd pod default-inbound-policy {value}",
            "linkerd",
            deployment("linkerd", annotate(**{"config.linkerd.io/default-inbound-policy": value})),
        )
    # Authorization kept inside
    kept = {
        "the allowed namespace": from_source(namespaces=["mesh-demo"]),
        "a principal of the allowed namespace": from_source(
            principals=["cluster.local/ns/mesh-demo/sa/frontend"]
        ),
        "any account of the allowed namespace": from_source(
            principals=["cluster.local/ns/mesh-demo/sa/*"]
        ),
        "the namespace and a principal": from_source(
            namespaces=["mesh-demo"], principals=["cluster.local/ns/mesh-demo/sa/frontend"]
        ),
    }
    for what, rules in kept.items():
        yield Case(f"istio AuthorizationPolicy ALLOW from {what}", "istio", authorization(rules))
    yield Case(
        "istio AuthorizationPolicy DENY from every namespace",
        "istio",
        authorization([{}], action="DENY"),
    )
    yield Case("istio AuthorizationPolicy ALLOW nothing (no rules)", "istio", authorization([]))
    for kind in WORKLOAD_KINDS:
        yield Case(f"istio compliant {kind}", "istio", deployment("istio", kind=kind))
        yield Case(
            f"istio compliant {kind}, explicit opt-in",
            "istio",
            deployment("istio", label(**{"sidecar.istio.io/inject": "true"}), kind=kind),
        )
        yield Case(
            f"linkerd compliant {kind}",
            "linkerd",
            deployment("linkerd", annotate(**{"linkerd.io/inject": "enabled"}), kind=kind),
        )
        yield Case(f"istio DELETE of a {kind} with hostNetwork", "istio", _delete_bad(kind))


def _in_namespace(obj: dict[str, Any], ns: str, **spec: Any) -> dict[str, Any]:
    obj["metadata"]["namespace"] = ns
    pod_of(obj)["spec"].update(spec)
    return obj


def _delete_bad(kind: str) -> Review:
    # Deleting a bad object is never blocked by the rule it breaks.
    obj = workload(kind, namespace=ISTIO_NS)
    pod_of(obj)["spec"]["hostNetwork"] = True
    return review(obj, "DELETE")


BYPASSES: tuple[Case, ...] = tuple(_bypasses())
LOOKALIKES: tuple[Case, ...] = tuple(_lookalikes())
