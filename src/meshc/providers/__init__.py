"""The provider profiles: one module per mesh, each exposing ``PROFILE``.

Adding a mesh adds its module here; the registry finds it by looking, so no
list elsewhere names the meshes. Everything that varies by mesh is read from
the profiles through the functions below.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from .profile import (
    ADMISSION_KINDS,
    CLUSTER_DOMAIN,
    CORE_KINDS,
    GATEWAY_API_ROUTES,
    KUBERNETES_SYSTEM_NAMESPACES,
    Capability,
    Markers,
    MeshFacts,
    PodMarkers,
    Profile,
    RenderOption,
    StoredAs,
    Support,
)

__all__ = [
    "CLUSTER_DOMAIN",
    "Capability",
    "Markers",
    "MeshFacts",
    "PodMarkers",
    "Profile",
    "RenderOption",
    "StoredAs",
    "Support",
    "all_profiles",
    "default_exempt_namespaces",
    "get",
    "kind_wave",
    "names",
]

_NOT_PROFILES = frozenset({"profile"})


@cache
def _registry() -> Mapping[str, Profile]:
    found: dict[str, Profile] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name in _NOT_PROFILES or info.name.startswith("_"):
            continue
        profile = importlib.import_module(f"{__name__}.{info.name}").PROFILE
        if not isinstance(profile, Profile) or profile.name != info.name:
            raise TypeError(f"{__name__}.{info.name}.PROFILE must be a Profile named {info.name!r}")
        found[profile.name] = profile
    return MappingProxyType(dict(sorted(found.items())))


def names() -> tuple[str, ...]:
    """The known providers, sorted."""
    return tuple(_registry())


def get(name: str) -> Profile:
    """The profile of ``name``; KeyError (naming the known ones) for any other."""
    try:
        return _registry()[name]
    except KeyError:
        raise KeyError(f"unknown provider {name!r} (known: {', '.join(names())})") from None


def all_profiles() -> tuple[Profile, ...]:
    return tuple(_registry().values())


@cache
def _waves() -> Mapping[str, int]:
    waves = {**CORE_KINDS, **ADMISSION_KINDS}
    for profile in all_profiles():
        for kind, wave in profile.kinds.items():
            if waves.setdefault(kind, wave) != wave:
                raise ValueError(
                    f"{profile.name} puts {kind} in sync wave {wave}, "
                    f"another mesh in {waves[kind]}: one kind, one wave"
                )
    return MappingProxyType(waves)


def kind_wave(kind: str) -> int:
    """The Argo CD sync wave of a rendered kind; KeyError for a kind no profile declares."""
    try:
        return _waves()[kind]
    except KeyError:
        raise KeyError(f"no provider profile declares a sync wave for kind {kind!r}") from None


def default_exempt_namespaces() -> tuple[str, ...]:
    """Kubernetes' own namespaces and every mesh's control plane, never judged by default."""
    found = list(KUBERNETES_SYSTEM_NAMESPACES)
    for profile in all_profiles():
        found += profile.system_namespaces
    return tuple(dict.fromkeys(found))


def mesh_config_kinds() -> tuple[tuple[str, str, str], ...]:
    """(group, kind, resource) of single kinds of mesh configuration, of every mesh."""
    found = list(GATEWAY_API_ROUTES)
    for profile in all_profiles():
        found += profile.config_kinds
    return tuple(dict.fromkeys(found))


def mesh_cluster_config_kinds() -> tuple[tuple[str, str, str], ...]:
    """(group, kind, resource) of cluster-scoped mesh configuration, of every mesh."""
    return tuple(dict.fromkeys(k for p in all_profiles() for k in p.cluster_config_kinds))


def mesh_config_groups() -> tuple[str, ...]:
    """API groups that are wholly mesh configuration, of every mesh."""
    return tuple(dict.fromkeys(g for p in all_profiles() for g in p.config_groups))
