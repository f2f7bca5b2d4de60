"""The model of the spec's traffic management beyond splits (see schema_traffic.py).

Frozen dataclasses like :mod:`meshc.compiler.model`, which refers to them;
percentages are floats with at most two decimals (validation checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Match

DEFAULT_PERCENT = 100.0
DEFAULT_REDIRECT_CODE = 301
# Istio's default ingress gateway pods (manifests/charts/gateways/istio-ingress).
DEFAULT_GATEWAY_SELECTOR: Mapping[str, str] = {"istio": "ingressgateway"}


@dataclass(frozen=True)
class GrpcMethod:
    service: str
    method: str | None = None

    @property
    def path(self) -> str:
        """The request path of the method (or the prefix of the service's methods)."""
        return f"/{self.service}/{self.method}" if self.method else f"/{self.service}/"


@dataclass(frozen=True)
class Delay:
    fixed: str
    percent: float = DEFAULT_PERCENT


@dataclass(frozen=True)
class Abort:
    http_status: int | None = None
    grpc_status: str | None = None
    percent: float = DEFAULT_PERCENT
    service: tuple[str, int] | None = None  # (Service name, port) answering with the error


@dataclass(frozen=True)
class Fault:
    path: str
    delay: Delay | None = None
    abort: Abort | None = None


@dataclass(frozen=True)
class Mirror:
    path: str
    version: str | None = None  # a version of the route's own service
    service: str | None = None  # or another service of the spec
    namespace: str | None = None  # the other service's namespace, resolved
    port: int | None = None  # the other service's port, resolved
    percent: float = DEFAULT_PERCENT


@dataclass(frozen=True)
class HeaderOps:
    set: tuple[tuple[str, str], ...] = ()
    add: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class Headers:
    path: str
    request: HeaderOps | None = None
    response: HeaderOps | None = None


@dataclass(frozen=True)
class Rewrite:
    path: str | None = None
    host: str | None = None


@dataclass(frozen=True)
class Redirect:
    path: str | None = None
    host: str | None = None
    scheme: str | None = None
    port: int | None = None
    status_code: int = DEFAULT_REDIRECT_CODE


@dataclass(frozen=True)
class RateLimit:
    path: str
    requests_per_second: int | None = None
    per_caller_requests_per_second: int | None = None


@dataclass(frozen=True)
class Gateway:
    namespace: str
    service_account: str
    selector: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_GATEWAY_SELECTOR))
    class_name: str | None = None


@dataclass(frozen=True)
class Listener:
    path: str
    name: str
    port: int
    protocol: str  # HTTP | HTTPS
    hosts: tuple[str, ...]
    tls_secret: str | None = None


@dataclass(frozen=True)
class Backend:
    service: str
    namespace: str
    port: int


@dataclass(frozen=True)
class IngressRoute:
    path: str
    backend: Backend | None
    matches: tuple[Match, ...] = ()
    timeout: str | None = None
    headers: Headers | None = None
    rewrite: Rewrite | None = None
    redirect: Redirect | None = None


@dataclass(frozen=True)
class Ingress:
    path: str
    name: str
    namespace: str
    gateway: Gateway
    listeners: tuple[Listener, ...]
    routes: tuple[IngressRoute, ...]

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(h for listener in self.listeners for h in listener.hosts))


@dataclass(frozen=True)
class EgressPort:
    port: int
    protocol: str  # http | tls


@dataclass(frozen=True)
class EgressHost:
    path: str
    host: str
    ports: tuple[EgressPort, ...]


@dataclass(frozen=True)
class Telemetry:
    path: str
    name: str
    namespace: str
    selector: Mapping[str, str] = field(default_factory=dict)
    sampling_percent: float | None = None
    access_logging: bool | None = None
    metrics: bool | None = None


def gateway_callers(
    ingress: tuple[Ingress, ...], namespace: str, name: str
) -> list[tuple[Gateway, tuple[int, ...], str]]:
    """The ingress gateways that route to service ``namespace/name``: each with the Service
    ports it sends to and the spec path of its first route there, in spec order."""
    found: dict[tuple[str, str], tuple[Gateway, list[int], str]] = {}
    for entry in ingress:
        for route in entry.routes:
            backend = route.backend
            if backend is None or (backend.namespace, backend.service) != (namespace, name):
                continue
            key = (entry.gateway.namespace, entry.gateway.service_account)
            _gateway, ports, _path = found.setdefault(key, (entry.gateway, [], route.path))
            if backend.port not in ports:
                ports.append(backend.port)
    return [(g, tuple(ports), path) for g, ports, path in found.values()]
