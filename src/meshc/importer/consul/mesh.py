"""The mesh-wide entries, Mesh and ProxyDefaults, and the spec's one mTLS mode.

The Consul target writes ``allowEnablingPermissiveMutualTLS`` (true for a PERMISSIVE
spec) in the Mesh (and, for the spec's egress, ``transparentProxy``: egress.py) and every service's ``mutualTLSMode`` in its ServiceDefaults
(targets/consul/__init__.py). A service's mode is its ServiceDefaults', else
ProxyDefaults', else strict (agent/configentry/resolve.go), and Consul refuses a
permissive entry while the Mesh does not allow one (agent/consul/state/config_entry.go,
``checkMutualTLSMode``). So the spec's mode is PERMISSIVE when the Mesh allows it and a
service (or none at all) is permissive; a service whose mode is not the spec's keeps
its own by an override of its rendered ServiceDefaults. ProxyDefaults' ``config.protocol``
is the protocol of every service without one of its own; meshc renders no ProxyDefaults,
so nothing else of it has a place in the spec.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..draft import Draft, Part, Source

# Consul's service protocol when no entry names one (agent/structs, ServiceConfigEntry:
# an empty protocol is tcp to the discovery chain and the proxy).
DEFAULT_PROTOCOL = "tcp"
MODES = ("strict", "permissive")
ALLOW_PERMISSIVE = "allowEnablingPermissiveMutualTLS"
TRANSPARENT_PROXY = "transparentProxy"  # read by egress.py


@dataclass
class MeshSettings:
    """What Mesh and ProxyDefaults say for every service."""

    allow_permissive: bool = False
    mesh: Source | None = None
    protocol: str = DEFAULT_PROTOCOL
    mode: str = "strict"  # ProxyDefaults' mutualTLSMode, else Consul's default
    proxy_defaults: Source | None = None


def read_mesh(draft: Draft, src: Source, settings: MeshSettings) -> None:
    labels = src.meta.get("labels") or {}
    if labels.get("meshc.io/mesh") and not draft.name:
        draft.name = str(labels["meshc.io/mesh"])
    settings.mesh = src
    # The target renders the Mesh entry in the spec's first namespace; Consul reads it
    # from any (a config entry of Consul CE is in no namespace).
    draft.first_namespace = draft.namespace_of(src)
    settings.allow_permissive = src.spec.get(ALLOW_PERMISSIVE) is True
    for key in sorted(set(src.spec) - {ALLOW_PERMISSIVE, TRANSPARENT_PROXY}):
        draft.lose(
            src,
            f"spec.{key}",
            "not a spec setting (meshc's Mesh entry says whether permissive "
            "mTLS is allowed and, for the spec's egress, whether only its hosts are "
            "reachable); not imported",
        )
    draft.imported += 1


def read_proxy_defaults(draft: Draft, src: Source, settings: MeshSettings) -> None:
    settings.proxy_defaults = src
    spec = src.spec
    config = spec.get("config") or {}
    if "protocol" in config:
        settings.protocol = str(config["protocol"])
    mode = str(spec.get("mutualTLSMode") or "")
    if mode in MODES:
        settings.mode = mode
    for key in sorted(set(config) - {"protocol"}):
        draft.lose(
            src,
            f"spec.config.{key}",
            "meshc renders no ProxyDefaults, and the spec has no such setting; not imported",
        )
    for key in sorted(set(spec) - {"config", "mutualTLSMode"}):
        draft.lose(
            src,
            f"spec.{key}",
            "meshc renders no ProxyDefaults, and the spec has no such setting; not imported",
        )
    draft.imported += 1


Mode = tuple[Part, str, Source, str]  # a service, its mode, the entry and field saying it


def settle_mtls(draft: Draft, settings: MeshSettings, modes: list[Mode]) -> str:
    """The spec's mode from the services'; each service of another mode keeps it by an
    override of its rendered ServiceDefaults, or is reported."""
    permissive = [m for _, m, _, _ in modes if m == "permissive"]
    mode = "PERMISSIVE" if settings.allow_permissive and (permissive or not modes) else "STRICT"
    where = settings.mesh.at() if settings.mesh is not None else ""
    if not where and modes:
        where = modes[0][2].at()
    if where:
        draft.mtls.append((mode, "", where))
    if settings.allow_permissive and mode == "STRICT" and settings.mesh is not None:
        draft.lose(
            settings.mesh,
            f"spec.{ALLOW_PERMISSIVE}",
            "allows permissive services, and none is: the spec's STRICT mesh "
            "does not (meshc renders false); imported as STRICT",
        )
    for svc, own, src, path in modes:
        if own == mode.lower():
            continue
        if own == "permissive":
            draft.lose(
                src,
                path,
                "permissive, and the Mesh does not allow it (Consul refuses the "
                "entry); imported as strict",
            )
            continue
        carried = draft.override(
            src,
            "ServiceDefaults",
            svc["namespace"],
            svc["name"],
            "consul",
            merge={"spec": {"mutualTLSMode": own}},
            reason=f"imported from {src.ref}: this service's mTLS mode is {own}",
        )
        said = "" if path else " (Consul's default: no entry names a mode)"
        draft.lose(src, path, f"{own}{said}, and the spec's mesh is {mode}", carried)
    return mode
