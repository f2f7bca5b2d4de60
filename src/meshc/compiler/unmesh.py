"""What removing a Namespace from the render does in the cluster, said loudly.

A rendered Namespace holds every workload in it. meshc renders each with
Argo CD's ``Prune=false,Delete=false`` (:mod:`meshc.compiler.core`), so a
sync never deletes one; but the reviewer of a change that drops a namespace
from ``spec.namespaces`` sees one ``- Namespace payments`` line, and needs to
know what happens instead and what is theirs to do. ``meshc diff`` and
``meshc render --check`` print these warnings.
"""

from __future__ import annotations

from collections.abc import Iterable

from meshc import providers

from .core import NAMESPACE_SYNC_OPTIONS, SYNC_OPTIONS_ANNOTATION
from .model import Mesh
from .objects import Obj, object_ref


def namespace_removals(removed: Iterable[Obj], mesh: Mesh | None) -> list[str]:
    """One warning per Namespace in ``removed``; ``mesh`` is the spec after the change
    (None when it is gone)."""
    removed = list(removed)
    unmanaged = {ns.name for ns in mesh.namespaces if not ns.manage} if mesh else set()
    warnings = []
    for obj in removed:
        if obj.get("kind") != "Namespace" or obj.get("apiVersion") != "v1":
            continue
        name = str(obj["metadata"]["name"])
        annotations = obj["metadata"].get("annotations") or {}
        kept = NAMESPACE_SYNC_OPTIONS in str(annotations.get(SYNC_OPTIONS_ANNOTATION, ""))
        inside = sorted(object_ref(o) for o in removed if o["metadata"].get("namespace") == name)
        warnings.append(_warning(name, obj, kept, name in unmanaged, inside))
    return warnings


def _injection_markers(obj: Obj) -> dict[str, dict[str, str]]:
    """The markers ``obj`` carries that put a namespace into some mesh."""
    meta = obj["metadata"]
    found: dict[str, dict[str, str]] = {"labels": {}, "annotations": {}}
    for profile in providers.all_profiles():
        for section, keys in profile.injection_keys.items():
            for key in keys:
                value = (meta.get(section) or {}).get(key)
                if value is not None:
                    found[section][key] = value
    return found


def _unmark_commands(name: str, markers: dict[str, dict[str, str]]) -> str:
    commands = []
    if markers["labels"]:
        commands.append(
            f"kubectl label namespace {name} " + " ".join(f"{k}-" for k in markers["labels"])
        )
    if markers["annotations"]:
        commands.append(
            f"kubectl annotate namespace {name} "
            + " ".join(f"{k}-" for k in markers["annotations"])
        )
    return "; ".join(commands) or "nothing to remove"


def _warning(name: str, obj: Obj, kept: bool, unmanaged: bool, inside: list[str]) -> str:
    found = _injection_markers(obj)
    markers = ", ".join(
        f"{k}={v}" for section in ("labels", "annotations") for k, v in found[section].items()
    )
    lines = [f"warning: Namespace {name} is no longer rendered."]
    if unmanaged:
        lines.append(
            f"  The spec still meshes it with manage: false: the team's own Namespace manifest "
            f"owns it now, and the webhook still adds its injection markers ({markers or 'none'}); "
            "`meshc check` says if that manifest lacks them."
        )
    if kept:
        lines.append(
            f"  In the cluster: Argo CD does not delete it (it was rendered with "
            f"{SYNC_OPTIONS_ANNOTATION}: {NAMESPACE_SYNC_OPTIONS}); the namespace and every "
            "workload in it stay, and the Application shows it OutOfSync (requires pruning) "
            "until another Application or you take it over."
        )
    else:
        lines.append(
            f"  In the cluster: it was rendered without {SYNC_OPTIONS_ANNOTATION}: "
            f"{NAMESPACE_SYNC_OPTIONS}, so an Argo CD sync that prunes DELETES the namespace "
            "and every workload in it. Re-render and sync the current output before this change."
        )
    if inside:
        lines.append("  Pruned with it: " + ", ".join(inside) + ".")
    if not unmanaged:
        lines.append(
            f"  It keeps its injection markers ({markers or 'none'}) and new pods there are still "
            "injected, but the webhook no longer judges it. To take it out of the mesh, remove "
            f"them ({_unmark_commands(name, found)}) and restart its workloads; "
            "to keep it meshed as the team's own Namespace, list it with manage: false; to "
            f"delete it with everything in it, kubectl delete namespace {name}."
        )
    return "\n".join(lines)
