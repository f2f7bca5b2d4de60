"""What a provider profile is: everything meshc knows about one mesh, as data.

A profile is read by every layer that needs a fact about a mesh: the
compiler (namespace markers, the kinds it renders and their sync waves,
render options, the capability column), the policies (the facts the Rego
reads from ``data.meshc.config.profile``), the webhook (the markers it adds)
and the chart (the mesh API groups the webhook must see). No other module
names a mesh's labels, UIDs, images or namespaces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol, TypedDict

# Kubernetes' own namespaces: no mesh injects there and the webhook never judges them.
KUBERNETES_SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
# The kinds every target renders, with their Argo CD sync waves: namespaces
# first, then what workloads and policies refer to, then routing (wave 2).
CORE_KINDS: Mapping[str, int] = MappingProxyType({"Namespace": 0, "Service": 1})
# The admission policies the API server runs itself (spec.admission.enforcement
# native or both) come before everything they guard: the namespaces they mark
# and the security objects they keep as rendered.
ADMISSION_KINDS: Mapping[str, int] = MappingProxyType(
    {
        "ValidatingAdmissionPolicy": -1,
        "ValidatingAdmissionPolicyBinding": -1,
        "MutatingAdmissionPolicy": -1,
        "MutatingAdmissionPolicyBinding": -1,
    }
)
# The DNS suffix of Services: what a mesh's host names end with.
CLUSTER_DOMAIN = "cluster.local"
# Routes of the Gateway API, which more than one mesh reads: mesh configuration
# whichever mesh runs. (group, kind, resource).
GATEWAY_API_ROUTES = tuple(
    ("gateway.networking.k8s.io", kind, kind.lower() + "s")
    for kind in ("HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute")
)


class Support(Enum):
    """How exactly a target expresses a spec feature (the capability matrix's cells)."""

    EXACT = "exact"
    APPROX = "approximated"
    UNSUPPORTED = "unsupported"


Capability = tuple[Support, str]  # (level, what is rendered instead, and why)


class Markers(TypedDict):
    """The labels and annotations that put a namespace into a mesh."""

    labels: dict[str, str]
    annotations: dict[str, str]


class NamespaceFacts(Protocol):
    """What a profile reads of one meshed namespace (meshc.compiler.model.Namespace)."""

    @property
    def name(self) -> str: ...

    @property
    def revision(self) -> str | None: ...  # the control-plane revision that injects it

    @property
    def dataplane(self) -> str: ...  # how its pods join the mesh (sidecar, or ambient on Istio)


@dataclass(frozen=True)
class PodMarkers:
    """What meshc's mutating webhook writes on a pod when it is created, as data.

    For a mesh that enrols pods by their own annotations rather than by their
    namespace (Consul). ``annotations`` are added when the pod gives no value of
    its own (an injection choice the pod made is kept, and judged by the
    policies); ``label_annotations`` maps a pod label to an annotation that
    always carries that label's value (metadata the mesh copies into its
    catalog, which must agree with the labels the spec's versions select).
    """

    namespace: str
    # The pods it applies to: every label given must match; empty for every pod.
    selector: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    label_annotations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    source: str = ""  # the spec field it comes from

    def applies_to(self, namespace: str, labels: Mapping[str, str]) -> bool:
        return namespace == self.namespace and all(
            labels.get(key) == value for key, value in self.selector.items()
        )


# What a profile reads of the spec to derive its pod markers: the shape of
# meshc.compiler.model, which the providers layer does not import.
class VersionFacts(Protocol):
    @property
    def labels(self) -> Mapping[str, str]: ...


class PortFacts(Protocol):
    @property
    def target_port(self) -> int | str: ...


class ServiceFacts(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def selector(self) -> Mapping[str, str]: ...
    @property
    def ports(self) -> Sequence[PortFacts]: ...
    @property
    def versions(self) -> Sequence[VersionFacts]: ...


class MeshFacts(Protocol):
    """What a profile reads of the spec (meshc.compiler.model.Mesh), which the
    providers layer does not import: to mark namespaces and derive pod markers."""

    @property
    def mtls(self) -> str: ...
    @property
    def meshed_namespaces(self) -> tuple[str, ...]: ...
    @property
    def services(self) -> Sequence[ServiceFacts]: ...

    def settings_for(self, provider: str) -> Mapping[str, Any]:
        """spec.<provider>, its defaults filled in."""
        ...


@dataclass(frozen=True)
class RenderOption:
    """A target-specific choice, offered as ``--<provider>-<name>`` on the command line.

    The first choice is the default. The option named ``routing`` selects the
    capability matrix's column.
    """

    name: str
    choices: tuple[str, ...]
    help: str

    @property
    def default(self) -> str:
        return self.choices[0]


class StoredAs(NamedTuple):
    """What a mesh's control plane stores a configuration object as, when that is not
    the object's own kind, namespace and name: two objects stored as one key overwrite
    (or refuse) each other wherever each lives."""

    key: str  # as the mesh names it, e.g. "ServiceIntentions web"
    path: str  # the field of the object that gives the key its name
    why: str  # what happens to two objects of one key


@dataclass(frozen=True)
class Profile:
    name: str  # spec.provider
    title: str  # as the mesh's own docs write it
    # The namespaces the mesh's control plane runs in: never judged by default.
    system_namespaces: tuple[str, ...]
    # Image repositories of the mesh's own containers (spec.admission.proxyImages overrides).
    proxy_images: tuple[str, ...]
    # The names its injector gives the containers it adds (proxy, init, CNI validation).
    mesh_containers: tuple[str, ...]
    # The UID the proxy runs as: the iptables rules send that UID's traffic around it.
    proxy_uid: int
    # Groups whose traffic the iptables rules also let through (Istio: --gid-owner).
    proxy_gids: tuple[int, ...]
    # Pod annotations that change what the proxy captures: an "exclude" list skips
    # what it names, an "include" list everything it leaves out (anything but "*").
    capture_annotations: Mapping[str, str]
    # The kinds its target renders (besides CORE_KINDS), with their sync waves.
    kinds: Mapping[str, int]
    # API groups of the mesh's configuration: judged by allowed-namespaces, and
    # sent to the webhook by the chart's rules.
    config_groups: tuple[str, ...]
    # Single kinds of its configuration in a group it shares: (group, kind, resource).
    config_kinds: tuple[tuple[str, str, str], ...] = ()
    # Cluster-scoped kinds of its configuration the policies judge (group, kind,
    # resource): sent to the webhook, but outside allowed-namespaces, having no namespace.
    cluster_config_kinds: tuple[tuple[str, str, str], ...] = ()
    # The security objects meshc renders (group, kind, resource): an UPDATE or
    # DELETE of one is judged against what the spec renders (managed-objects).
    protected_kinds: tuple[tuple[str, str, str], ...] = ()
    # Fields the API server fills in from the CRD's schema defaults when a
    # rendered object leaves them out: kind -> spec field -> value.
    spec_defaults: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # Pod labels and annotations that keep a pod out of the mesh: the chart puts
    # them on the webhook's own pods, which the API server reaches in plain TLS.
    pod_opt_out: Markers = field(default_factory=lambda: Markers(labels={}, annotations={}))
    # Opt-out labels the injector also reads as annotations when the label is absent
    # (meshc import carries either spelling of a workload's opt-out).
    opt_out_annotations_too: tuple[str, ...] = ()
    render_options: tuple[RenderOption, ...] = ()
    # Whether meshc's mutating webhook marks new pods (pod_markers): the chart
    # then sends it pod CREATE, and names its mutating webhook configuration so
    # that it sorts before each of ``injector_webhooks``, the mesh injector's
    # MutatingWebhookConfiguration names (the API server calls the mutating
    # configurations in name order, and an injector that is never re-invoked
    # must see the markers).
    mutates_pods: bool = False
    injector_webhooks: tuple[str, ...] = ()
    # The spec's settings for this mesh alone, ``spec.<name>`` (JSON Schema
    # properties), and their defaults: what the target, the namespace markers
    # and the policies (``data.meshc.config.settings``) read.
    settings_schema: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    settings_defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # The namespace labels and annotations by which a namespace says whether,
    # and by which control plane, the mesh injects: {"labels": (...), "annotations": (...)}.
    # When a namespace carries any of them, the mutating webhook adds none of
    # them: it never overrides a choice written on the object (validation judges it).
    injection_keys: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # Whether the mesh has control-plane revisions a namespace can name (spec.revision).
    revisions: bool = False
    # The data planes a namespace can choose (spec.dataplane, spec.namespaces[].dataplane),
    # the default first; () for a mesh with sidecars only. Every data plane but the
    # default has its own capability column, named after it.
    dataplanes: tuple[str, ...] = ()
    # The Service label naming the waypoint a rendered Service's traffic must go through
    # (Istio ambient); the policies refuse a Service, pod or namespace that skips it.
    waypoint_label: str | None = None
    # Routing mode -> feature -> how this target expresses it; a feature absent
    # from a mode's table is exact. Feature ids are those of meshc.compiler.capabilities.
    capabilities: Mapping[str, Mapping[str, Capability]] = field(
        default_factory=lambda: MappingProxyType({"default": MappingProxyType({})})
    )

    def namespace_markers(self, mesh: MeshFacts, namespace: NamespaceFacts) -> Markers:
        """The labels and annotations that put ``namespace`` into the mesh ``mesh`` describes."""
        raise NotImplementedError

    def pod_markers(self, mesh: MeshFacts) -> tuple[PodMarkers, ...]:
        """What meshc's mutating webhook writes on the pods of ``mesh`` (only with mutates_pods)."""
        return ()

    def stored_as(self, obj: Mapping[str, Any]) -> StoredAs | None:
        """The key the mesh stores ``obj`` under, when not its kind, namespace and name
        (meshc.policies.conflicts finds hand-written objects of a key meshc renders)."""
        return None

    def settings(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        """spec.<name> as given, its defaults filled in."""
        return {**self.settings_defaults, **(given or {})}

    def routing_modes(self) -> tuple[str, ...]:
        for option in self.render_options:
            if option.name == "routing":
                return option.choices
        return ("default",)

    def columns(self) -> tuple[str, ...]:
        """The capability matrix's columns: each routing mode, then each other data plane."""
        return self.routing_modes() + self.dataplanes[1:]

    def policy_facts(self) -> dict[str, Any]:
        """The facts the Rego reads as ``data.meshc.config.profile``."""
        return {
            "name": self.name,
            "mesh_containers": sorted(self.mesh_containers),
            "proxy_uid": self.proxy_uid,
            "proxy_gids": list(self.proxy_gids),
            "capture_annotations": dict(sorted(self.capture_annotations.items())),
            "spec_defaults": {k: dict(v) for k, v in sorted(self.spec_defaults.items())},
            "protected_kinds": sorted([group, kind] for group, kind, _ in self.protected_kinds),
        }
