"""Consul's configuration (consul-k8s's config entries, group consul.hashicorp.com): the
Mesh and ProxyDefaults (the spec's mTLS mode, the services' default protocol), each
service's ServiceDefaults (its protocol, mode and upstream limits), ServiceIntentions
(who may call, and which ingress gateway), ServiceResolver (versions), ServiceSplitter and ServiceRouter (routes,
timeout and retries), and the destinations behind the TerminatingGateway (egress); the
namespaces' transparent-proxy label is the Consul marker the target writes.

The inverse of :mod:`meshc.compiler.targets.consul`, one module per concern: :mod:`.entries`
(which service an entry is for, and entries that conflict), :mod:`.mesh`,
:mod:`.defaults` (with :mod:`.upstreams`), :mod:`.intentions`, :mod:`.routing` (versions and
splits), :mod:`.router` (with :mod:`.destination`), :mod:`.egress` and :mod:`.gateway` (consul-k8s's
API gateway, whose Gateway and HTTPRoutes gatewayapi.py reads).
"""

from __future__ import annotations

from meshc.compiler.targets.consul.common import API, HTTP_PROTOCOLS
from meshc.providers.consul import (
    PROFILE,
    ROUTE_RETRY_FILTER,
    ROUTE_TIMEOUT_FILTER,
    TRANSPARENT_PROXY,
)

from ..draft import Draft, Finding, Part, Source, origin
from ..inventory import Inventory
from .defaults import (
    ServiceConf,
    protocol_of,
    read_service_defaults,
    resolve_modes,
    without_defaults,
)
from .egress import Egress, destination_intention, is_destination, read_egress, read_mesh_proxy
from .entries import ROUTER, Entries, service_named
from .gateway import Gateways, settle_ingress
from .intentions import read_intentions
from .mesh import MeshSettings, read_mesh, read_proxy_defaults, settle_mtls
from .router import Routed, read_router
from .routing import read_resolver, read_splits
from .upstreams import settle_upstreams

NAME = PROFILE.name
GROUP = API.partition("/")[0]
PROXY_DEFAULTS_NAME = "global"  # the one ProxyDefaults Consul reads (agent/structs)
_READ = {
    "Mesh",
    "ProxyDefaults",
    "ServiceDefaults",
    "ServiceIntentions",
    "ServiceResolver",
    "ServiceSplitter",
    "ServiceRouter",
    "TerminatingGateway",
    ROUTE_TIMEOUT_FILTER,  # an HTTPRoute's (gateway.py)
    ROUTE_RETRY_FILTER,
}


def mark_namespaces(draft: Draft) -> None:
    """A namespace labelled for transparent proxy is meshed by Consul (the label the target
    writes): read before the Services, so that theirs are in scope."""
    for ns, part in draft.namespaces.items():
        labels = part.get("labels") or {}
        marker = part.get("_marker")
        if TRANSPARENT_PROXY not in labels or (marker is not None and marker[0] != NAME):
            continue
        value = labels.pop(TRANSPARENT_PROXY)
        if not labels:
            part.pop("labels", None)
        if value == "true":
            part["_marker"] = (NAME, f"{TRANSPARENT_PROXY}=true")
            continue
        draft.findings.append(
            Finding(
                part["__from__"][0],
                f"Namespace {ns}",
                f"metadata.labels.{TRANSPARENT_PROXY}",
                f"{value}: transparent proxy off; meshc's Consul namespaces have it on "
                "(its policies deny a pod without it); not imported",
            )
        )


def _singleton(draft: Draft, found: list[Source], name: str | None) -> Source | None:
    first: Source | None = None
    for src in found:
        if name is not None and src.name != name:
            draft.lose(
                src,
                "metadata.name",
                f"Consul reads the {src.kind} named {name} only; not imported",
            )
        elif first is None:
            first = src
        else:
            draft.lose(
                src,
                "",
                f"a second {src.kind} (the first: {first.at()}): Consul has one; not merged",
            )
    return first


def _service_sources(inv: Inventory, draft: Draft) -> dict[int, Source]:
    """The Service object of each spec service (by the part's id)."""
    out: dict[int, Source] = {}
    for src in inv.kind("Service", ""):
        svc = draft.service(draft.namespace_of(src), src.name)
        if svc is not None:
            out[id(svc)] = src
    return out


def _for_service(draft: Draft, src: Source, name: str) -> Part | None:
    svc = service_named(draft, name, draft.namespace_of(src))
    if svc is None:
        draft.lose(
            src,
            "spec.destination.name" if src.kind == "ServiceIntentions" else "metadata.name",
            f"the Consul service {name!r} is no Service of the input (the spec's services "
            "are Services selecting pods; one of a name in one namespace); not imported",
        )
    return svc


def _settings(inv: Inventory, draft: Draft, entries: Entries, egress: Egress) -> ServiceConf:
    settings = MeshSettings()
    mesh = _singleton(draft, inv.kind("Mesh", GROUP), None)
    if mesh is not None:
        with draft.guard(mesh):
            read_mesh(draft, mesh, settings)
            read_mesh_proxy(draft, mesh, egress)
    proxy = _singleton(draft, inv.kind("ProxyDefaults", GROUP), PROXY_DEFAULTS_NAME)
    if proxy is not None:
        with draft.guard(proxy):
            read_proxy_defaults(draft, proxy, settings)
    conf = ServiceConf()
    named: set[int] = set()
    for name, src in entries.named("ServiceDefaults").items():
        if is_destination(src):
            egress.destinations[name] = src
            continue
        svc = _for_service(draft, src, name)
        if svc is not None:
            with draft.guard(src):
                read_service_defaults(draft, src, svc, conf)
                named.add(id(svc))
    services = _service_sources(inv, draft)
    for svc in draft.services.values():
        if id(svc) not in named and id(svc) in services:
            without_defaults(draft, services[id(svc)], svc, settings)
            conf.modes.append((svc, "", services[id(svc)], ""))
    resolve_modes(conf, settings, services)
    settle_mtls(draft, settings, conf.modes)
    return conf


def _routing(inv: Inventory, draft: Draft, entries: Entries) -> None:
    splitters = dict(entries.named("ServiceSplitter"))
    defaults: dict[int, Part] = {}
    touched: dict[int, tuple[Part, Source]] = {}
    for name, src in entries.named("ServiceResolver").items():
        svc = _for_service(draft, src, name)
        if svc is None:
            continue
        with draft.guard(src):
            by_default = read_resolver(draft, inv, src, svc)
            if by_default is not None:
                defaults[id(svc)] = by_default
                touched[id(svc)] = (svc, src)
    routed: dict[int, Routed] = {}
    routers: dict[int, Source] = {}
    for name, src in entries.named(ROUTER).items():
        svc = _for_service(draft, src, name)
        if svc is None:
            continue
        if "_vs" in svc or "routes" in svc:
            draft.lose(src, "", f"{name} has routes of another mesh already; not merged")
            continue
        with draft.guard(src):
            found = read_router(draft, src, svc, splitters)
            if found is not None:
                routed[id(svc)] = found
                routers[id(svc)] = src
                touched[id(svc)] = (svc, src)
    # What no route took: the services' own splitters, their default routes.
    for name, src in splitters.items():
        svc = service_named(draft, name, draft.namespace_of(src))
        if svc is None:
            draft.lose(
                src,
                "metadata.name",
                "no ServiceRouter route goes to this splitter, and it names no Service of "
                "the input; not imported",
            )
        elif "_vs" in svc or "routes" in svc:
            draft.lose(src, "", f"{name} has routes of another mesh already; not merged")
        elif protocol_of(svc) not in HTTP_PROTOCOLS:
            draft.lose(
                src,
                "",
                f"{name} speaks tcp, whose discovery chain has no splitter (Consul refuses "
                "it); not imported",
            )
        else:
            route: Part = {}
            with draft.guard(src):
                if read_splits(draft, src, svc, route):
                    defaults[id(svc)] = route
                    touched[id(svc)] = (svc, src)
    for key, (svc, _) in touched.items():
        found = routed.get(key, Routed([]))
        default = defaults.get(key)
        if found.default and default is not None:
            # The catch-all's header changes (and timeout) are the default route's.
            default.update(found.default)
            origin(default, routers[key], found.catch_all)
        elif found.default:
            draft.lose(
                routers[key],
                f"{found.catch_all}.destination",
                "the spec's default route carries these settings, and the service has none "
                "(no splitter of its own, no defaultSubset); not imported",
            )
        routes = [*found.routes, *([default] if default is not None else [])]
        if routes:
            svc["routes"] = routes


def import_consul(inv: Inventory, draft: Draft) -> None:
    mine = [s for s in inv.sources if s.group in PROFILE.config_groups]
    if mine or any(p.get("_marker") and p["_marker"][0] == NAME for p in draft.namespaces.values()):
        draft.provider_votes[NAME] += len(mine) or 1
    if not mine:
        settle_ingress(draft, inv)  # a gateway of class consul without config entries
        return
    entries = Entries.of(inv, draft, GROUP)
    egress = Egress(gateways=inv.kind("TerminatingGateway", GROUP))
    conf = _settings(inv, draft, entries, egress)
    gateways = Gateways.of(inv, draft)
    for name, src in entries.named("ServiceIntentions").items():
        if destination_intention(src, egress):
            continue
        svc = _for_service(draft, src, name)
        if svc is not None:
            with draft.guard(src):
                read_intentions(draft, inv, src, svc, gateways)
    settle_upstreams(draft, conf.upstreams)
    read_egress(draft, egress)
    _routing(inv, draft, entries)
    settle_ingress(draft, inv)
    for src in mine:
        if src.group != GROUP or src.kind not in _READ:
            draft.lose(
                src,
                "",
                f"meshc import does not read {src.kind} objects: the spec has no equivalent",
            )
