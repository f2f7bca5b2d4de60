"""What every Consul config entry shares: the API version, the service's protocol and the
catalog metadata its subsets select on."""

from __future__ import annotations

from meshc.providers.consul import service_meta_key

from ...model import Service, Version

API = "consul.hashicorp.com/v1alpha1"
# The spec's port protocols are Consul's service protocols (ServiceDefaults.protocol).
PROTOCOL = {"http": "http", "http2": "http2", "grpc": "grpc", "tcp": "tcp"}
# Protocols whose discovery chain may route and split: agent/consul/discoverychain
# compile.go, enableAdvancedRoutingForProtocol (a chain with a ServiceRouter or
# ServiceSplitter and another protocol is refused when the entry is written).
HTTP_PROTOCOLS = ("http", "http2", "grpc")


def protocol(svc: Service) -> str:
    """The service's protocol in Consul: its first port's, the one consul-k8s registers."""
    return PROTOCOL[svc.ports[0].protocol]


def subset_filter(version: Version) -> str:
    """A resolver subset's filter, over the catalog metadata meshc's webhook copies from the
    version's labels (consul.hashicorp.com/service-meta-<key>).

    go-bexpr's identifiers take no ``-``, so every key is an index expression.
    """
    return " and ".join(
        f'Service.Meta["{service_meta_key(label)}"] == "{value}"'
        for label, value in sorted(version.labels.items())
    )
