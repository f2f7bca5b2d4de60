"""A service's versions and splits: its ServiceResolver's subsets as ``versions``, its
ServiceSplitters as the ``to`` / ``split`` of its routes (the router: router.py).

The inverse of targets/consul/routing.py's resolver and splitters:

- a subset's filter is ``Service.Meta["<key>"] == "<value>"`` per version label, joined
  by ``and``; the key is the label with what Consul's metadata keys refuse replaced by
  ``_`` (:func:`meshc.providers.consul.service_meta_key`), so a key is the pod label of
  the service's workloads that becomes it, else the key itself;
- the service's own splitter is the default route; a matched route that splits goes to
  the splitter ``<service>--<route>``, whose name carries the route's name (or
  ``route-<index>``).
"""

from __future__ import annotations

import re

from meshc.providers.consul import service_meta_key

from ..draft import Draft, Part, Source, origin
from ..inventory import Inventory, pod_labels

_META = re.compile(r'Service\.Meta\["([A-Za-z0-9_-]+)"\] == "([^"\\]*)"')
_SUBSET_FIELDS = {"filter"}
_RESOLVER_READ = {"subsets", "defaultSubset"}


# --- versions --------------------------------------------------------------------------------


def _label(inv: Inventory, draft: Draft, svc: Part, key: str) -> str:
    """The pod label of the service's workloads whose catalog key is ``key``."""
    for w in inv.workloads():
        if draft.namespace_of(w) != svc["namespace"]:
            continue
        labels = pod_labels(w)
        if not all(labels.get(k) == v for k, v in svc["selector"].items()):
            continue
        for label in labels:
            if service_meta_key(label) == key:
                return label
    return key


def _filter_labels(filter_: str) -> list[tuple[str, str]] | None:
    parts = filter_.split(" and ")
    found = [_META.fullmatch(p.strip()) for p in parts]
    if not all(found):
        return None
    return [(m[1], m[2]) for m in found if m is not None]


def read_resolver(draft: Draft, inv: Inventory, src: Source, svc: Part) -> Part | None:
    """The versions of ``svc`` (its resolver's subsets); the default route a
    ``defaultSubset`` makes, for a service without a splitter of its own."""
    spec = src.spec
    if svc.get("versions"):
        draft.lose(
            src, "spec.subsets", f"{svc['name']} has versions of another mesh already; not merged"
        )
        return None
    versions: list[Part] = []
    for name, subset in (spec.get("subsets") or {}).items():
        path = f"spec.subsets.{name}"
        pairs = _filter_labels(str((subset or {}).get("filter", "")))
        extra = sorted(set(subset or {}) - _SUBSET_FIELDS)
        if pairs is None or not pairs or extra:
            draft.lose(
                src,
                f"{path}.{extra[0]}" if extra else f"{path}.filter",
                "a version is the instances whose catalog metadata holds its labels: a "
                'filter of Service.Meta["<key>"] == "<value>" joined by "and", and no other '
                "field; not imported",
            )
            continue
        labels = {_label(inv, draft, svc, k): v for k, v in pairs}
        version: Part = {"name": str(name), "labels": labels}
        origin(version, src, path)
        versions.append(version)
    if versions:
        svc["versions"] = versions
    carried = {k: v for k, v in spec.items() if k not in _RESOLVER_READ}
    if carried and versions:
        at = draft.override(
            src,
            "ServiceResolver",
            svc["namespace"],
            svc["name"],
            "consul",
            merge={"spec": carried},
            reason=f"imported from {src.ref}: fields of the ServiceResolver the spec does not say",
        )
        for key in carried:
            draft.lose(src, f"spec.{key}", "not a setting of the spec", at)
    elif carried:
        for key in carried:
            draft.lose(
                src,
                f"spec.{key}",
                "not a setting of the spec, and meshc renders a ServiceResolver for a "
                "service with versions only; not imported",
            )
    draft.imported += 1
    default = spec.get("defaultSubset")
    if default is None:
        return None
    if not any(v["name"] == default for v in versions):
        draft.lose(src, "spec.defaultSubset", f"{default!r} is no subset read; not imported")
        return None
    route: Part = {"to": str(default)}
    return origin(route, src, "spec.defaultSubset")


# --- splits ----------------------------------------------------------------------------------


def versions_of(svc: Part) -> set[str]:
    return {str(v["name"]) for v in svc.get("versions", [])}


def read_splits(draft: Draft, src: Source, svc: Part, route: Part) -> bool:
    """A splitter's splits into ``route`` (``to`` or ``split``); False when the spec
    cannot say them."""
    splits = src.spec.get("splits") or []
    for key in sorted(set(src.spec) - {"splits"}):
        draft.lose(src, f"spec.{key}", "not a setting of the spec's splits; not imported")
    weights: dict[str, float] = {}
    for i, split in enumerate(splits):
        path = f"spec.splits[{i}]"
        subset = split.get("serviceSubset")
        extra = sorted(set(split) - {"weight", "service", "serviceSubset"})
        if extra:
            draft.lose(
                src,
                f"{path}.{extra[0]}",
                "the spec's splits send a share of requests to a version and change "
                "nothing else; the split is not imported",
            )
            return False
        if split.get("service", svc["name"]) != svc["name"] or subset not in versions_of(svc):
            draft.lose(
                src,
                path,
                f"the spec's splits go to the versions of {svc['name']} (its resolver's "
                "subsets); the splitter is not imported",
            )
            return False
        weights[str(subset)] = weights.get(str(subset), 0) + float(split.get("weight", 0))
    if not weights:
        draft.lose(src, "spec.splits", "splits nothing; not imported")
        return False
    rounded = {v: round(w) for v, w in weights.items()}
    if any(rounded[v] != w for v, w in weights.items()) or sum(rounded.values()) != 100:
        draft.lose(
            src,
            "spec.splits",
            "the spec's weights are whole percents summing to 100; imported rounded",
        )
    if len(rounded) == 1:
        route["to"] = next(iter(rounded))
    else:
        route["split"] = rounded
    origin(route, src)
    draft.imported += 1
    return True
