"""ServiceDefaults: a service's protocol and mTLS mode, the upstream limits it sets for
the services it calls, and the rest of it carried by an override of the ServiceDefaults
meshc renders for the service.

The Consul target writes ``protocol`` (the first port's), ``mutualTLSMode`` and
``upstreamConfig.overrides`` (targets/consul/__init__.py and policy.py); every other field
of the entry changes nothing the spec renders elsewhere, so a merge of it into the rendered
entry keeps the render what the team had. Each field is read by the entry of
:data:`READERS` named after it; a field the target comes to render gets a reader there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from meshc.compiler.targets.consul.common import PROTOCOL

from ..draft import Draft, Part, Source
from .mesh import MODES, MeshSettings, Mode
from .upstreams import Upstream, read_overrides

NAME = "consul"
_SPEC_PROTOCOLS = {consul: spec for spec, consul in PROTOCOL.items()}


@dataclass
class ServiceConf:
    """What a service's ServiceDefaults said, for the steps that need every service read."""

    modes: list[Mode] = field(default_factory=list)
    upstreams: list[Upstream] = field(default_factory=list)
    carried: dict[str, Any] = field(default_factory=dict)  # spec fields for the override


Reader = Callable[[Draft, Source, Part, Any, ServiceConf], None]


def _protocol(draft: Draft, src: Source, svc: Part, value: Any, conf: ServiceConf) -> None:
    protocol = _SPEC_PROTOCOLS.get(str(value))
    if protocol is None:
        draft.lose(
            src,
            "spec.protocol",
            f"{value}: the spec's ports speak http, http2, grpc or tcp; imported as the "
            "Service's port says",
        )
        return
    set_protocol(svc, protocol)


def _mode(draft: Draft, src: Source, svc: Part, value: Any, conf: ServiceConf) -> None:
    if str(value) in MODES:
        conf.modes.append((svc, str(value), src, "spec.mutualTLSMode"))
        return
    if value not in ("", "default", None):
        draft.lose(src, "spec.mutualTLSMode", f"{value}: not a mode Consul knows; not imported")
    conf.modes.append((svc, "", src, ""))  # the mesh-wide mode, resolved later


def _upstream_config(draft: Draft, src: Source, svc: Part, value: Any, conf: ServiceConf) -> None:
    value = dict(value or {})
    conf.upstreams += read_overrides(draft, src, svc, value.pop("overrides", None) or [])
    if value:
        conf.carried["upstreamConfig"] = value


def _carry(key: str) -> Reader:
    def read(draft: Draft, src: Source, svc: Part, value: Any, conf: ServiceConf) -> None:
        conf.carried[key] = value

    return read


# spec field -> its reader; any other field is carried (``rateLimits``, say, until the
# target renders the spec's rateLimit there).
READERS: dict[str, Reader] = {
    "protocol": _protocol,
    "mutualTLSMode": _mode,
    "upstreamConfig": _upstream_config,
}


def set_protocol(svc: Part, protocol: str) -> None:
    """The service's Consul protocol: its first port's, the one consul-k8s registers."""
    port = svc["ports"][0]
    if protocol == "http":
        port.pop("protocol", None)
    else:
        port["protocol"] = protocol


def protocol_of(svc: Part) -> str:
    return str(svc["ports"][0].get("protocol", "http"))


def read_service_defaults(draft: Draft, src: Source, svc: Part, conf: ServiceConf) -> None:
    conf.carried = {}
    for key, value in src.spec.items():
        READERS.get(key, _carry(key))(draft, src, svc, value, conf)
    if "mutualTLSMode" not in src.spec:
        conf.modes.append((svc, "", src, ""))  # the mesh-wide mode, resolved later
    if conf.carried:
        carried = draft.override(
            src,
            "ServiceDefaults",
            svc["namespace"],
            svc["name"],
            NAME,
            merge={"spec": conf.carried},
            reason=f"imported from {src.ref}: fields of the ServiceDefaults the spec does not say",
        )
        for key in conf.carried:
            draft.lose(src, f"spec.{key}", "not a setting of the spec", carried)
    draft.imported += 1


def without_defaults(draft: Draft, src: Source, svc: Part, settings: MeshSettings) -> None:
    """A service no ServiceDefaults names: ProxyDefaults' protocol, else tcp."""
    if protocol_of(svc) != settings.protocol:
        draft.notes.append(
            f"{src.at()}: Service {svc['namespace']}/{svc['name']}: no ServiceDefaults names its protocol, so Consul "
            f"proxies it as {settings.protocol} "
            + (
                "(ProxyDefaults' config.protocol)"
                if settings.proxy_defaults is not None
                else "(Consul's default)"
            )
            + f"; imported as {settings.protocol}"
        )
    if settings.protocol in _SPEC_PROTOCOLS:
        set_protocol(svc, _SPEC_PROTOCOLS[settings.protocol])


def resolve_modes(conf: ServiceConf, settings: MeshSettings, services: dict[int, Source]) -> None:
    """The services whose mode no ServiceDefaults names take ProxyDefaults' (or strict)."""
    resolved: list[Mode] = []
    for svc, mode, src, path in conf.modes:
        if mode:
            resolved.append((svc, mode, src, path))
        elif (
            settings.proxy_defaults is not None and "mutualTLSMode" in settings.proxy_defaults.spec
        ):
            resolved.append((svc, settings.mode, settings.proxy_defaults, "spec.mutualTLSMode"))
        else:
            resolved.append((svc, settings.mode, services.get(id(svc), src), ""))
    conf.modes = resolved
