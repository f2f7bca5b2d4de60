"""Every example spec, rendered for every target the way `meshc render` does."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from meshc import providers
from meshc.compiler.capabilities import columns
from meshc.compiler.loader import load_mesh
from meshc.compiler.model import Mesh
from meshc.compiler.targets import RenderOptions, render

from .paths import EXAMPLES

EXAMPLE_NAMES = tuple(sorted(p.parent.name for p in EXAMPLES.glob("*/mesh.yaml")))

# Examples that use a feature a target (or a Linkerd routing mode) cannot express, so that
# `meshc render` refuses them without --allow-lossy (the unsupported features
# are named in the comments). Every other (example, target) renders exactly
# or with warnings only.
NEEDS_ALLOW_LOSSY = {
    # retryOn connect-failure; with smi also header and path matches.
    ("canary-ab", "linkerd", "gateway-api"),
    ("canary-ab", "linkerd", "smi"),
    # connectionPool.maxConnections; with smi also perTryTimeout and baseEjectionTime.
    ("multi-namespace", "linkerd", "gateway-api"),
    ("multi-namespace", "linkerd", "smi"),
    # connectionPool.http1MaxPendingRequests; with smi also perTryTimeout and
    # outlierDetection next to a ServiceProfile.
    ("quickstart", "linkerd", "gateway-api"),
    ("quickstart", "linkerd", "smi"),
    # connectionPool.maxRequestsPerConnection; with canary-ab also fromServiceAccounts.
    ("canary-ab", "kuma", "default"),
    ("quickstart", "kuma", "default"),
    # an allow rule for one of two ports; fromServiceAccounts.
    ("multi-namespace", "kuma", "default"),
    # fault.delay and telemetry.tracing; with smi also per-route timeouts and matches.
    ("bookinfo", "linkerd", "gateway-api"),
    ("bookinfo", "linkerd", "smi"),
    # mirror, rewrite, gRPC retry conditions and the TCP split; with smi also the routes'
    # matches, headers, redirect and abort.
    ("traffic-policies", "linkerd", "gateway-api"),
    ("traffic-policies", "linkerd", "smi"),
    # Gateway API has no fault injection (bookinfo's delay); traffic-policies also rewrites
    # after a string prefix, aborts, splits a TCP port and, in ambient, rate-limits.
    ("bookinfo", "istio", "gateway-api"),
    ("bookinfo", "istio", "ambient"),
    ("traffic-policies", "istio", "gateway-api"),
    ("traffic-policies", "istio", "ambient"),
    # spec.dataplane ambient: Linkerd and Kuma have no ambient data plane.
    ("bookinfo-ambient", "linkerd", "gateway-api"),
    ("bookinfo-ambient", "linkerd", "smi"),
    ("bookinfo-ambient", "kuma", "default"),
    ("bookinfo-ambient", "consul", "default"),
    # fromServiceAccounts, a delay on a matched route, ingress and tracing.
    ("bookinfo", "kuma", "default"),
    # a path rewrite after a prefix match, an abort on a matched route.
    ("traffic-policies", "kuma", "default"),
    # spec.revision: Linkerd has no control-plane revisions.
    ("istio-revisions", "linkerd", "gateway-api"),
    ("istio-revisions", "linkerd", "smi"),
    ("istio-revisions", "kuma", "default"),
    # Consul CE: fromNamespaces (an allow is rendered as the services the spec declares
    # there, not every workload of the namespace), perTryTimeout, port-scoped allows,
    # maxRequestsPerConnection, a second port, revisions, ingress/egress/telemetry.
    ("blue-green", "consul", "default"),
    ("bookinfo", "consul", "default"),
    ("canary-ab", "consul", "default"),
    ("istio-revisions", "consul", "default"),
    ("linkerd-quickstart", "consul", "default"),
    ("multi-namespace", "consul", "default"),
    ("quickstart", "consul", "default"),
    ("traffic-policies", "consul", "default"),
}

# Render options an example is rendered with, as `meshc render --<provider>-<option>` flags:
# the rate limit of traffic-policies is an EnvoyFilter on Istio only when asked.
RENDER_CHOICES: dict[str, dict[str, str]] = {
    "traffic-policies": {"istio-rate-limit": "envoyfilter"},
}


def render_flags(name: str) -> list[str]:
    """The example's render options as command-line flags."""
    return [
        arg for key, value in RENDER_CHOICES.get(name, {}).items() for arg in (f"--{key}", value)
    ]


@dataclass(frozen=True)
class Target:
    """A column of the capability matrix: a provider and one of its routing modes."""

    provider: str
    routing: str = "default"  # "default" for a provider with one way to route

    def __post_init__(self) -> None:
        if (self.provider, self.routing) not in columns():
            raise ValueError(f"no target {self.provider} ({self.routing}): known are {columns()}")

    @property
    def id(self) -> str:
        # Istio's first column (VirtualServices, sidecars) keeps the plain name its goldens have.
        plain = self.routing in ("default", "virtualservice")
        return self.provider if plain else f"{self.provider}-{self.routing}"

    @property
    def dataplane(self) -> str | None:
        """The data plane this column stands for (ambient), or None for a routing mode."""
        return self.routing if self.routing in providers.get(self.provider).dataplanes[1:] else None

    def options(self, allow_lossy: bool, choices: dict[str, str] | None = None) -> RenderOptions:
        chosen = {k: v for k, v in (choices or {}).items() if k.startswith(f"{self.provider}-")}
        if self.routing != "default" and self.dataplane is None:
            chosen[f"{self.provider}-routing"] = self.routing
        return RenderOptions(chosen, allow_lossy)

    def mesh(self, mesh: Mesh) -> Mesh:
        """The spec as this column renders it: every namespace on its data plane."""
        if self.dataplane is None:
            return mesh
        return with_dataplane(mesh, self.dataplane)


def with_dataplane(mesh: Mesh, dataplane: str) -> Mesh:
    """``mesh`` with spec.dataplane set and no namespace naming its own."""
    return replace(
        mesh,
        dataplane=dataplane,
        namespaces=tuple(replace(ns, dataplane=dataplane) for ns in mesh.namespaces),
    )


ISTIO = Target("istio", "virtualservice")
TARGETS = tuple(Target(provider, mode) for provider, mode in columns())


def example_mesh(name: str) -> Mesh:
    return load_mesh(str(EXAMPLES / name / "mesh.yaml"))


def render_example(
    name: str, target: Target, *, allow_lossy: bool | None = None
) -> list[dict[str, Any]]:
    """The objects `meshc render --provider P [--linkerd-routing R]` prints for an example.

    ``allow_lossy`` defaults to what the example needs (``NEEDS_ALLOW_LOSSY``).
    """
    if allow_lossy is None:
        allow_lossy = (name, target.provider, target.routing) in NEEDS_ALLOW_LOSSY
    options = target.options(allow_lossy, RENDER_CHOICES.get(name))
    mesh = target.mesh(example_mesh(name))
    objects: list[dict[str, Any]] = render(mesh, options, target.provider)[0]
    return objects
