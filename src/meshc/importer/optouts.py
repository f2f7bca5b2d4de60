"""Workloads that opt out of injection in a namespace the spec meshes, as exceptions to the
injection-required policy (``spec.admission.exceptions``).

A team that runs a workload outside the mesh on purpose marks its pods so (the provider
profile's ``pod_opt_out``: Istio's ``sidecar.istio.io/inject: "false"``, Linkerd's
``linkerd.io/inject: disabled``, Kuma's ``kuma.io/sidecar-injection: disabled``,
Consul's ``consul.hashicorp.com/connect-inject: "false"``), and meshc's webhook denies
such a pod in a meshed namespace unless an exception lifts the policy for it. The
exception names the workload as a violation's own hint does (the workload and the pods
it creates, by name prefix: :func:`meshc.policies.violations.exception_scope`) and its
pods' labels; when that would also admit another workload of the input that does not opt
out, it is reported instead. ``spec.admission.exemptions`` grants capture annotations
only (compiler/validate.py refuses an injection marker there), so it is not the place.
"""

from __future__ import annotations

import re

from meshc import providers
from meshc.policies.violations import exception_scope

from .draft import Draft, Part, Source, origin
from .inventory import Inventory, pod_labels, pod_metadata, pod_prefix, rendered_by_meshc

POLICY = "injection-required"
# Values that turn injection off, whatever the marker's own spelling (the injectors read
# booleans leniently: Istio any value but y/yes/true/on, Consul strconv.ParseBool).
_OFF = frozenset({"false", "disabled", "no", "off", "n", "f", "0", "none"})
_MAX_NAME = 63


def _opt_out(src: Source, profile: providers.Profile) -> tuple[str, str, str] | None:
    """(section, key, value) of the marker that keeps the workload's pods out of the mesh."""
    markers = profile.pod_opt_out
    wanted = [("labels", k, v) for k, v in markers["labels"].items()]
    wanted += [("annotations", k, v) for k, v in markers["annotations"].items()]
    wanted += [
        ("annotations", k, "false")
        for _, k, _ in list(wanted)
        if k in profile.opt_out_annotations_too
    ]
    for section, key, off in wanted:
        values = pod_metadata(src, section)
        if key in values and values[key].lower() in _OFF | {off.lower()}:
            if section == "annotations" and key in pod_metadata(src, "labels"):
                continue  # the label wins
            return section, key, values[key]
    return None


def _covers(kinds: list[str], names: list[str], selector: dict[str, str], other: Source) -> bool:
    """Whether an exception of these kinds, names and selector takes in ``other`` or the
    pods it creates (named ``<name>-…``)."""
    if not all(pod_labels(other).get(k) == v for k, v in selector.items()):
        return False
    for pattern in names:
        prefix = pattern.removesuffix("*")
        if pattern == other.name and other.kind in kinds:
            return True
        if pattern.endswith("*") and (
            (other.name.startswith(prefix) and other.kind in kinds)
            or ("Pod" in kinds and f"{other.name}-".startswith(prefix))
        ):
            return True
    return False


def _name(src: Source, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", f"{src.name}-outside-mesh".lower()).strip("-")
    name = base[:_MAX_NAME].rstrip("-")
    n = 2
    while name in taken:
        suffix = f"-{n}"
        name = base[: _MAX_NAME - len(suffix)].rstrip("-") + suffix
        n += 1
    taken.add(name)
    return name


def exceptions(inv: Inventory, draft: Draft, provider: str, meshed: set[str]) -> list[Part]:
    """The exceptions of the workloads that opt out in ``meshed`` namespaces."""
    profile = providers.get(provider)
    workloads = [
        w for w in inv.workloads() if draft.namespace_of(w) in meshed and not rendered_by_meshc(w)
    ]
    found = {id(w): marker for w in workloads if (marker := _opt_out(w, profile)) is not None}
    out: list[Part] = []
    taken: set[str] = set()
    for w in workloads:
        marker = found.get(id(w))
        if marker is None:
            continue
        section, key, value = marker
        ns = draft.namespace_of(w)
        path = f'{pod_prefix(w)}metadata.{section}["{key}"]'
        kinds, names = exception_scope(w.kind, w.name)
        selector = pod_labels(w)
        others = [
            o
            for o in workloads
            if id(o) not in found
            and draft.namespace_of(o) == ns
            and _covers(kinds, names, selector, o)
        ]
        if others:
            draft.lose(
                w,
                path,
                f"{key}: {value} keeps its pods out of the mesh, and an exception to "
                f"{POLICY} naming them (kinds {', '.join(kinds)}, names "
                f"{', '.join(names)}, its pods' labels) would admit {others[0].ref} outside "
                "the mesh too; not carried: add the exception by hand",
            )
            continue
        entry: Part = {
            "name": _name(w, taken),
            "policies": [POLICY],
            "namespaces": [ns],
            "kinds": kinds,
            "names": names,
        }
        if selector:
            entry["selector"] = selector
        entry["reason"] = (
            f"runs outside the mesh on purpose: its pods carry {key}: {value} "
            f"(imported from {w.at(path)})"
        )
        origin(entry, w, path)
        out.append(entry)
        draft.notes.append(
            f"{w.at(path)}: {w.kind} {ns}/{w.name}: {key}: {value}: runs outside the mesh "
            f"on purpose; carried as spec.admission.exceptions[{len(out) - 1}] ({POLICY}), "
            "so meshc's webhook admits it and audits each admission"
        )
    return out
