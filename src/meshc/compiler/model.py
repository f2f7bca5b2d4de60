"""The validated Mesh spec as an immutable tree.

Every element keeps ``path``, its field path in the spec, so renderers can
annotate objects with their source and diagnostics can point back to a line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from meshc import providers

from .model_traffic import (
    EgressHost,
    Fault,
    GrpcMethod,
    Headers,
    Ingress,
    Mirror,
    RateLimit,
    Redirect,
    Rewrite,
    Telemetry,
)
from .yamlpos import Positions

# The spec's defaults, named once. The exempt namespaces and proxy images
# default to what the provider profiles say (meshc.providers).
DEFAULT_WEBHOOK_NAMESPACE = "meshc-system"
DEFAULT_TRUST_DOMAIN = "cluster.local"
DEFAULT_MTLS = "STRICT"
DEFAULT_DATAPLANE = "sidecar"
DATAPLANES = ("sidecar", "ambient")
DEFAULT_ENFORCEMENT = "webhook"


def default_allowed_namespaces(meshed: Iterable[str]) -> tuple[str, ...]:
    """spec.admission.allowedNamespaces when the spec leaves it out: the meshed namespaces."""
    return tuple(meshed)


@dataclass(frozen=True)
class StringMatch:
    kind: str  # exact | prefix | regex
    value: str


@dataclass(frozen=True)
class Match:
    headers: tuple[tuple[str, StringMatch], ...] = ()
    path: StringMatch | None = None
    grpc: GrpcMethod | None = None


@dataclass(frozen=True)
class Retries:
    attempts: int
    per_try_timeout: str | None = None
    retry_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    path: str
    split: tuple[tuple[str, int], ...]  # (version, weight) in spec order; () for a redirect
    name: str = ""
    # Requests the route takes: any of these; () is the default route.
    matches: tuple[Match, ...] = ()
    # Traffic management of this route (model_traffic); None: the service's, or none.
    timeout: str | None = None
    retries: Retries | None = None
    fault: Fault | None = None
    mirror: Mirror | None = None
    headers: Headers | None = None
    rewrite: Rewrite | None = None
    redirect: Redirect | None = None

    @property
    def match(self) -> Match | None:
        """The first match; None for the default route."""
        return self.matches[0] if self.matches else None


@dataclass(frozen=True)
class Port:
    name: str
    port: int
    target_port: int | str
    protocol: str = "http"


@dataclass(frozen=True)
class Version:
    name: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class ConnectionPool:
    max_connections: int | None = None
    http1_max_pending_requests: int | None = None
    http2_max_requests: int | None = None
    max_requests_per_connection: int | None = None


@dataclass(frozen=True)
class OutlierDetection:
    consecutive_5xx_errors: int | None = None
    interval: str | None = None
    base_ejection_time: str | None = None
    max_ejection_percent: int | None = None


@dataclass(frozen=True)
class AllowRule:
    path: str
    from_namespaces: tuple[str, ...] = ()
    from_service_accounts: tuple[str, ...] = ()  # "namespace/name"
    ports: tuple[int, ...] = ()  # Service ports


@dataclass(frozen=True)
class Service:
    path: str
    name: str
    namespace: str
    selector: Mapping[str, str]
    ports: tuple[Port, ...]
    versions: tuple[Version, ...] = ()
    routes: tuple[Route, ...] = ()
    timeout: str | None = None
    retries: Retries | None = None
    connection_pool: ConnectionPool | None = None
    outlier_detection: OutlierDetection | None = None
    allow: tuple[AllowRule, ...] = ()
    rate_limit: RateLimit | None = None
    # False: the app's own Service is used (service.manage); meshc renders only mesh objects.
    manage_service: bool = True

    @property
    def fqdn_suffix(self) -> str:
        return f"{self.name}.{self.namespace}.svc"

    def version(self, name: str) -> Version:
        return next(v for v in self.versions if v.name == name)

    def target_port(self, port: int) -> int | str:
        return next(p.target_port for p in self.ports if p.port == port)


@dataclass(frozen=True)
class Namespace:
    name: str
    path: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    # The control-plane revision that injects it: spec.namespaces[].revision,
    # else spec.revision; None for the mesh's default (Istio only).
    revision: str | None = None
    # False: the team owns the Namespace object elsewhere; meshc renders none
    # (the webhook still adds the markers).
    manage: bool = True
    # How its pods join the mesh: spec.namespaces[].dataplane, else spec.dataplane.
    dataplane: str = DEFAULT_DATAPLANE


@dataclass(frozen=True)
class Exemption:
    namespace: str
    annotations: tuple[str, ...]
    reason: str
    selector: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyException:
    """spec.admission.exceptions[]: findings of some policies that do not apply to some
    objects (the shape of Kyverno's PolicyException)."""

    name: str
    path: str  # spec.admission.exceptions[i]
    policies: tuple[str, ...]
    namespaces: tuple[str, ...]
    reason: str
    kinds: tuple[str, ...] = ()  # empty: every kind
    names: tuple[str, ...] = ()  # names, or prefixes ending in "*"; empty: every name
    selector: Mapping[str, str] = field(default_factory=dict)  # pod (template) labels
    paths: tuple[str, ...] = ()  # field paths of the findings; empty: every finding
    expires: datetime | None = None  # stops applying then (UTC)


@dataclass(frozen=True)
class Admission:
    allowed_namespaces: tuple[str, ...]
    exempt_namespaces: tuple[str, ...]
    webhook_namespace: str = DEFAULT_WEBHOOK_NAMESPACE
    policies: Mapping[str, str] = field(default_factory=dict)  # policy id -> mode
    exemptions: tuple[Exemption, ...] = ()
    # provider -> image repositories of its own containers
    proxy_images: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    enforcement: str = DEFAULT_ENFORCEMENT  # webhook | native | both
    kubernetes_version: str | None = None  # the oldest release native policies must run on
    exceptions: tuple[PolicyException, ...] = ()


@dataclass(frozen=True)
class Override:
    """spec.overrides[]: a patch of one rendered object (meshc.compiler.overrides)."""

    path: str  # spec.overrides[i]
    kind: str
    name: str
    namespace: str | None = None  # None: a cluster-scoped object
    provider: str | None = None  # the render it patches (default: spec.provider)
    patch: tuple[Mapping[str, Any], ...] | None = None  # RFC 6902 operations
    merge: Mapping[str, Any] | None = None  # RFC 7386 merge patch
    reason: str = ""


@dataclass(frozen=True)
class Mesh:
    name: str
    provider: str
    mtls: str
    namespaces: tuple[Namespace, ...]
    admission: Admission
    services: tuple[Service, ...]
    source: str  # the spec file as named on the command line (or in git)
    trust_domain: str = DEFAULT_TRUST_DOMAIN
    # spec.<provider> blocks as given (provider -> settings), for the meshes with settings.
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    ingress: tuple[Ingress, ...] = ()
    egress: tuple[EgressHost, ...] = ()
    telemetry: tuple[Telemetry, ...] = ()
    revision: str | None = None  # spec.revision: every namespace's unless it names its own
    overrides: tuple[Override, ...] = ()
    dataplane: str = DEFAULT_DATAPLANE  # spec.dataplane: every namespace's unless it names its own
    positions: Positions = field(default_factory=Positions, compare=False, repr=False)

    def locate(self, path: str) -> tuple[int, int]:
        return self.positions.of(path)

    def settings_for(self, provider: str) -> dict[str, Any]:
        """spec.<provider>, its defaults (from the provider profile) filled in."""
        return providers.get(provider).settings(self.settings.get(provider))

    @property
    def meshed_namespaces(self) -> tuple[str, ...]:
        return tuple(ns.name for ns in self.namespaces)

    def dataplane_of(self, namespace: str) -> str:
        """The data plane of a meshed namespace (spec.dataplane for any other)."""
        return next(
            (ns.dataplane for ns in self.namespaces if ns.name == namespace), self.dataplane
        )
