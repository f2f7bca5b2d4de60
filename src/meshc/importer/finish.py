"""The draft settled into the spec: the provider, the mesh's mTLS mode, the meshed
namespaces, and the overrides that carry what the spec cannot say about the objects
meshc renders."""

from __future__ import annotations

from collections import Counter
from typing import Any

from meshc import providers
from meshc.compiler.model import DEFAULT_TRUST_DOMAIN
from meshc.compiler.targets.gatewayapi import GROUP as GATEWAY_API_GROUP
from meshc.providers.istio import AMBIENT

from .draft import FROM, Draft, Part, Source
from .inventory import Inventory

API_VERSION = "meshc.io/v1alpha1"
DEFAULT_NAME = "imported"


def mesh_groups() -> frozenset[str]:
    """The API groups of mesh configuration, from the provider profiles, and Gateway API's."""
    groups = set(providers.mesh_config_groups()) | {GATEWAY_API_GROUP}
    groups |= {group for group, _, _ in providers.mesh_config_kinds()}
    return frozenset(groups)


def _provider(draft: Draft, given: str | None) -> str:
    if given:
        return given
    if draft.provider_votes:
        return draft.provider_votes.most_common(1)[0][0]
    markers = Counter(p["_marker"][0] for p in draft.namespaces.values() if p.get("_marker"))
    return markers.most_common(1)[0][0] if markers else "istio"


def _mtls(draft: Draft, meshed: list[str]) -> str:
    """One mode for the mesh: the mesh-wide one, unless every namespace says another."""
    mesh_wide = [m for m, ns, _ in draft.mtls if not ns]
    default = mesh_wide[-1] if mesh_wide else "PERMISSIVE"
    per_ns = {ns: (m, where) for m, ns, where in draft.mtls if ns}
    modes = {per_ns[ns][0] if ns in per_ns else default for ns in meshed}
    if len(modes) <= 1:
        return modes.pop() if modes else default
    chosen = "STRICT" if "STRICT" in modes else default
    for ns in meshed:
        mode = per_ns[ns][0] if ns in per_ns else default
        if mode != chosen:
            where = per_ns[ns][1] if ns in per_ns else "(no PeerAuthentication)"
            draft.notes.append(
                f"{where}: namespace {ns}: mTLS {mode}: not expressible in a "
                f"Mesh spec: the spec has one mode for the mesh; imported as "
                f"{chosen}"
            )
            draft.findings.append(
                _finding(
                    where,
                    f"Namespace {ns}",
                    "mtls",
                    f"{mode}, and the spec has one mode for the mesh ({chosen})",
                )
            )
    return chosen


def _finding(where: str, ref: str, path: str, why: str) -> Any:
    from .draft import Finding

    return Finding(where, ref, path, why)


def _carry_service(draft: Draft, svc: Part, provider: str) -> None:
    """The overrides of the objects rendered for ``svc``: its Service's own fields, and the
    DestinationRule settings the spec has no field for."""
    merge_of = svc.pop("_merge", None)
    annotations = svc.pop("_annotations", None)
    src: Source | None = merge_of[0] if merge_of else None
    merge: dict[str, Any] = dict(merge_of[1]) if merge_of else {}
    if annotations:
        merge.setdefault("metadata", {})["annotations"] = annotations
    if merge and src is not None:
        carried = draft.override(
            src,
            "Service",
            svc["namespace"],
            svc["name"],
            provider,
            merge=merge,
            reason=f"imported from {src.ref}: fields of the Service the spec does not say",
        )
        for section, fields in merge.items():
            for key in fields:
                draft.lose(
                    src, f"{section}.{key}", "the spec's services say a selector and ports", carried
                )
    renders_rule = bool(
        svc.get("versions") or svc.get("connectionPool") or svc.get("outlierDetection")
    )
    for src, path, why, kind, op, merge in svc.pop("_carry", []):
        if not renders_rule or provider != "istio":
            draft.lose(src, path, why + "; not imported")
            continue
        carried = draft.override(
            src,
            kind,
            svc["namespace"],
            svc["name"],
            provider,
            merge=merge,
            patch=[op] if op else None,
        )
        draft.lose(src, path, why, carried)


_INTERNAL = ("_dr", "_vs", "_allow_from", "_src", "_versions_only", "_policy")


def settle(inv: Inventory, draft: Draft, provider: str | None) -> dict[str, Any]:
    from . import istio, optouts

    chosen = _provider(draft, provider)
    istio.settle_ingress(draft)
    waypoints = istio.settle_waypoints(draft)
    # Routed by HTTPRoutes (or a Service per version) and by no VirtualService.
    routed = {
        svc["namespace"]
        for svc in draft.services.values()
        if svc.pop("_routed", False) and "_vs" not in svc
    }
    for svc in draft.services.values():
        for key in _INTERNAL:
            svc.pop(key, None)
        bare = svc.pop("_bare_route", None)
        if bare is not None and chosen == "istio" and not svc.get("retries"):
            draft.lose(
                bare,
                "spec.rules[0]",
                "a rule to the whole service and nothing else: "
                "meshc renders one for a service's retries, which Istio's HTTPRoutes do "
                "not carry (and the spec cannot say how many); not imported",
            )
        _carry_service(draft, svc, chosen)
        if "allow" in svc:
            svc["allow"] = [
                dict(r) for i, r in enumerate(svc["allow"]) if r and r not in svc["allow"][:i]
            ]
            if not svc["allow"]:
                del svc["allow"]
    meshed = sorted(
        {ns for ns, _ in draft.services}
        | {e["namespace"] for e in draft.ingress.values()}
        | {t["namespace"] for t in draft.telemetry.values()}
        | {n for n, p in draft.namespaces.items() if p.get("_marker")}
    )
    if draft.first_namespace in meshed:
        meshed.remove(draft.first_namespace)
        meshed.insert(0, draft.first_namespace)
    planes = {ns: (draft.namespaces.get(ns) or {}).pop("_dataplane", "sidecar") for ns in meshed}
    if chosen != "istio":
        for ns in [n for n, p in planes.items() if p == AMBIENT]:
            draft.findings.append(
                _finding(
                    draft.namespaces[ns][FROM][0],
                    f"Namespace {ns}",
                    "metadata.labels",
                    f"an ambient namespace, and {chosen} has only sidecars; imported as meshed",
                )
            )
            planes[ns] = "sidecar"
    # spec.dataplane: the most namespaces' (ambient on a tie), the others' their own.
    dataplane = (
        AMBIENT if 0 < 2 * list(planes.values()).count(AMBIENT) >= len(planes) else "sidecar"
    )
    namespaces = []
    for ns in meshed:
        part = draft.namespaces.get(ns, {"name": ns})
        if planes[ns] != dataplane:
            part["dataplane"] = planes[ns]
        marker = part.pop("_marker", None)
        if marker is not None and marker[1].endswith(("=disabled", "=false", "=none")):
            draft.findings.append(
                _finding(
                    part[FROM][0],
                    f"Namespace {ns}",
                    marker[1],
                    "injection is turned off here, and the spec meshes every namespace it names",
                )
            )
        namespaces.append(part)
    spec: dict[str, Any] = {"provider": chosen, "mtls": _mtls(draft, meshed)}
    if dataplane != "sidecar":
        spec["dataplane"] = dataplane
    if chosen == "istio":
        # HTTPRoutes (or a Service per version) in a sidecar namespace: Istio's gateway-api
        # routing; an ambient namespace routes so whatever the setting.
        settings = draft.settings.setdefault("istio", {})
        if any(planes.get(ns, "sidecar") != AMBIENT for ns in routed):
            settings["routing"] = "gateway-api"
        if waypoints is not None:
            settings["waypoints"] = waypoints
    if draft.trust_domain and draft.trust_domain != DEFAULT_TRUST_DOMAIN:
        spec["trustDomain"] = draft.trust_domain
    spec["namespaces"] = namespaces
    if draft.services:
        spec["services"] = [draft.services[k] for k in sorted(draft.services)]
    if draft.ingress:
        spec["ingress"] = [draft.ingress[k] for k in sorted(draft.ingress)]
    if draft.egress:
        spec["egress"] = {"hosts": [draft.egress[k] for k in sorted(draft.egress)]}
    if draft.telemetry:
        spec["telemetry"] = [draft.telemetry[k] for k in sorted(draft.telemetry)]
    for mesh_name, settings in sorted(draft.settings.items()):
        if settings:
            spec[mesh_name] = settings
    if draft.overrides:
        spec["overrides"] = draft.overrides
    exceptions = optouts.exceptions(inv, draft, chosen, set(meshed))
    if exceptions:
        spec["admission"] = {"exceptions": exceptions}
    return {
        "apiVersion": API_VERSION,
        "kind": "Mesh",
        "metadata": {"name": draft.name or DEFAULT_NAME},
        "spec": spec,
    }
