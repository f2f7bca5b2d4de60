"""The policies' data document, compiled from the Mesh spec.

:func:`policy_data` is the one producer of ``data.meshc.config``; its shape is
documented in docs/policies.md and read by the Rego in this package.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from meshc import providers
from meshc.compiler.schema import POLICY_IDS

from .violations import MODES

# Where in the spec each policy's rule comes from, for the violation's source.
_SPEC_FIELDS = {
    "injection-required": "spec.namespaces",
    "mtls-strict": "spec.mtls",
    "allowed-namespaces": "spec.admission.allowedNamespaces",
    "managed-objects": "spec",
}


class _Exemption(Protocol):
    namespace: str
    selector: Any
    annotations: tuple[str, ...]


def policy_data(mesh: Any) -> dict[str, Any]:
    """``data.meshc.config`` for a loaded :class:`meshc.compiler.model.Mesh`."""
    adm = mesh.admission
    modes = {pid: str(adm.policies.get(pid, "enforce")) for pid in POLICY_IDS}
    for pid, mode in modes.items():
        if mode not in MODES:
            raise ValueError(
                f"policy {pid!r} has mode {mode!r}; expected one of {', '.join(MODES)}"
            )
    profile = providers.get(mesh.provider)
    images = image_spellings(adm.proxy_images.get(mesh.provider, profile.proxy_images))
    rendered = _rendered(mesh)
    return {
        "provider": mesh.provider,
        "profile": profile.policy_facts(),
        "mesh_config": {
            "groups": sorted(providers.mesh_config_groups()),
            "kinds": sorted([group, kind] for group, kind, _ in providers.mesh_config_kinds()),
        },
        "mtls": mesh.mtls,
        "meshed_namespaces": sorted(ns.name for ns in mesh.namespaces),
        "allowed_namespaces": sorted(adm.allowed_namespaces),
        "ingress_gateways": ingress_gateways(mesh),
        "exempt_namespaces": sorted(adm.exempt_namespaces),
        "modes": modes,
        "exemptions": [_exemption(e) for e in adm.exemptions],
        "mesh_images": images,
        "mesh_image_prefixes": image_prefixes(images),
        "sources": {pid: f"{mesh.source}:{field}" for pid, field in _SPEC_FIELDS.items()},
        "mesh_name": mesh.name,
        # spec.<provider>, defaults filled in: what only this mesh's rules read.
        "settings": mesh.settings_for(mesh.provider),
        "protected": protected_objects(mesh, rendered),
        "namespace_markers": marker_data(mesh),
        "exceptions": exception_data(mesh),
        "egress_hosts": sorted({e.host for e in mesh.egress}),
        "waypoints": waypoint_data(profile, rendered),
        "services": [
            {"name": svc.name, "namespace": svc.namespace, "selector": dict(svc.selector)}
            for svc in mesh.services
        ],
    }


def only_policies(data: dict[str, Any], policies: Iterable[str]) -> dict[str, Any]:
    """``data`` that makes the policies evaluate only ``policies`` (ids); all when empty.

    A diagnostic and benchmarking aid (``meshc check --policy``, ``meshc
    webhook serve --policy``), never a spec setting: a policy the spec
    enforces stays in the spec, and a webhook serving a filter says so on
    every answer (meshc.webhook.state). The filter is ``data.meshc.config.only``,
    which main.rego tests before it evaluates each policy. Raises ValueError
    for an id that names no policy.
    """
    chosen = sorted(set(policies))
    unknown = [pid for pid in chosen if pid not in POLICY_IDS]
    if unknown:
        raise ValueError(
            f"unknown policy {', '.join(map(repr, unknown))}; expected one of {', '.join(POLICY_IDS)}"
        )
    if not chosen or len(chosen) == len(POLICY_IDS):
        return data
    return {**data, "only": chosen}


def ingress_gateways(mesh: Any) -> list[dict[str, Any]]:
    """The identities of the spec's ingress gateways (spec.ingress[].gateway), sorted, each
    with the names of the ingress entries it serves.

    Authorization may admit exactly these callers from outside the allowed
    namespaces: declaring a gateway admits its service account, not its namespace.
    Where a mesh runs the gateway itself (Kuma's MeshGatewayInstance, named after
    the entry), the entry's name is part of the gateway's identity and names its pods.
    """
    found: dict[tuple[str, str], set[str]] = {}
    for entry in mesh.ingress:
        key = (entry.gateway.namespace, entry.gateway.service_account)
        found.setdefault(key, set()).add(entry.name)
    return [
        {"namespace": ns, "service_account": sa, "names": sorted(names)}
        for (ns, sa), names in sorted(found.items())
    ]


def exception_data(mesh: Any) -> list[dict[str, Any]]:
    """spec.admission.exceptions (meshc.compiler.exceptions.policy_exceptions)."""
    from meshc.compiler.exceptions import policy_exceptions

    return policy_exceptions(mesh)


def marker_data(mesh: Any) -> dict[str, Any]:
    """Each meshed namespace's injection markers, as meshc renders them and the webhook adds
    them (Istio's rules read the revision a namespace must carry from it)."""
    from meshc.compiler.core import namespace_markers

    return {
        ns: {
            "labels": dict(sorted(m["labels"].items())),
            "annotations": dict(sorted(m["annotations"].items())),
        }
        for ns, m in sorted(namespace_markers(mesh).items())
    }


def _rendered(mesh: Any) -> list[dict[str, Any]]:
    from meshc.compiler.targets import RenderOptions, render

    objects, _ = render(mesh, RenderOptions(allow_lossy=True))
    return objects


def waypoint_data(profile: Any, rendered: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """namespace -> rendered Service -> the waypoint its label names (Istio ambient): a
    Service, pod or namespace may not skip it."""
    label = profile.waypoint_label
    found: dict[str, dict[str, str]] = {}
    for obj in rendered if label else ():
        meta = obj["metadata"]
        if obj["kind"] == "Service" and label in meta.get("labels", {}):
            found.setdefault(meta["namespace"], {})[meta["name"]] = meta["labels"][label]
    return {ns: dict(sorted(v.items())) for ns, v in sorted(found.items())}


def protected_objects(mesh: Any, rendered: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The security objects the spec renders, as the API server stores them.

    Keyed ``<group>/<kind>/<namespace>/<name>``; each with its ``spec`` (the
    CRD's defaults filled in, as the API server fills them) and the spec field
    it comes from. managed-objects admits an UPDATE of such an object only to
    exactly this, and its DELETE only once the spec no longer renders it.
    """
    from meshc.compiler.objects import SOURCE_ANNOTATION

    profile = providers.get(mesh.provider)
    kinds = {(group, kind) for group, kind, _ in profile.protected_kinds}
    objects = rendered if rendered is not None else _rendered(mesh)
    found: dict[str, Any] = {}
    for obj in objects:
        group = str(obj["apiVersion"]).rpartition("/")[0]
        if (group, obj["kind"]) not in kinds:
            continue
        meta = obj["metadata"]
        key = f"{group}/{obj['kind']}/{meta.get('namespace', '')}/{meta['name']}"
        found[key] = {
            "spec": {**profile.spec_defaults.get(obj["kind"], {}), **obj.get("spec", {})},
            "source": meta["annotations"][SOURCE_ANNOTATION],
        }
    return dict(sorted(found.items()))


def image_spellings(repositories: Iterable[str]) -> list[str]:
    """Every way an image reference can name each repository, sorted.

    Docker Hub is the implicit registry and ``library/`` its implicit path, so
    ``istio/proxyv2`` and ``docker.io/istio/proxyv2`` are one repository.
    """
    found: set[str] = set()
    for repo in repositories:
        path = _hub_path(repo)
        if path is None:
            found.add(repo)
            continue
        found.update({path, f"docker.io/{path}", f"index.docker.io/{path}"})
        if path.startswith("library/"):
            found.add(path.removeprefix("library/"))
    return sorted(found)


def image_prefixes(spellings: Iterable[str]) -> list[str]:
    """What a tagged or digest-pinned image of any of ``spellings`` starts with, sorted.

    The policies test a mesh-named container's image with a startswith over
    these (and an exact match for a bare repository), rather than parsing
    the reference.
    """
    return sorted(f"{spelling}{sep}" for spelling in spellings for sep in ":@")


def _hub_path(repo: str) -> str | None:
    """The Docker Hub path of ``repo``, or None when it names another registry."""
    first, _, rest = repo.partition("/")
    if not rest:
        return f"library/{repo}"
    if first in ("docker.io", "index.docker.io"):
        return rest if "/" in rest else f"library/{rest}"
    if "." in first or ":" in first or first == "localhost":
        return None
    return repo


def _exemption(e: _Exemption) -> dict[str, Any]:
    return {
        "namespace": e.namespace,
        "selector": dict(e.selector or {}),
        "annotations": list(e.annotations),
    }
