"""Read a spec file, validate it, and build the :class:`Mesh` model."""

from __future__ import annotations

import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any

from meshc import providers

from . import loader_traffic as traffic
from .errors import Problem, SpecError
from .model import (
    DEFAULT_DATAPLANE,
    DEFAULT_ENFORCEMENT,
    DEFAULT_MTLS,
    DEFAULT_TRUST_DOMAIN,
    DEFAULT_WEBHOOK_NAMESPACE,
    Admission,
    AllowRule,
    ConnectionPool,
    Exemption,
    Mesh,
    Namespace,
    OutlierDetection,
    Override,
    PolicyException,
    Port,
    Route,
    Service,
    Version,
    default_allowed_namespaces,
)
from .schema import POLICY_IDS
from .validate import validate_document
from .yamlpos import Positions, load_document


def read_spec_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise SpecError([Problem(path, 0, 0, "", "no such file")]) from None
    except IsADirectoryError:
        raise SpecError(
            [Problem(path, 0, 0, "", "is a directory, expected a Mesh spec file")]
        ) from None
    except UnicodeDecodeError as exc:
        raise SpecError([Problem(path, 0, 0, "", f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise SpecError([Problem(path, 0, 0, "", f"cannot read: {exc.strerror}")]) from None


def load_mesh(path: str, *, text: str | None = None, source: str | None = None) -> Mesh:
    """Load and validate a spec; raise :class:`SpecError` with every problem found.

    ``text`` replaces reading ``path`` (for specs read from git); ``source``
    is the name written into rendered objects (default: ``path``).
    """
    name = "<stdin>" if path == "-" else path
    if text is None:
        text = read_spec_text(path)
    data, positions, problems = load_document(text, name)
    if data is not None:
        problems += validate_document(data, positions, name)
    if problems:
        raise SpecError(problems)
    return build_mesh(data, positions, source or source_name(path))


def source_name(path: str) -> str:
    """How rendered objects cite the spec: relative to its git repository's root.

    The same spec must render to the same bytes whether a hook, CI or Argo CD
    names it, from whatever directory they run in; outside a repository the
    path is kept as given.
    """
    if path == "-":
        return "<stdin>"
    absolute = Path(path).absolute()
    for parent in absolute.parents:
        if (parent / ".git").exists():
            return absolute.relative_to(parent).as_posix()
    return path


def _map(value: Any) -> MappingProxyType[str, str]:
    return MappingProxyType(dict(value or {}))


def _route(path: str, raw: dict[str, Any], namespace: str, ports: traffic.ServicePorts) -> Route:
    if "split" in raw:
        split = tuple(raw["split"].items())
    else:
        split = ((raw["to"], 100),) if "to" in raw else ()
    return Route(
        path=path,
        split=split,
        name=raw.get("name", ""),
        **traffic.route_policy(path, raw, namespace, ports),
    )


def _service(path: str, raw: dict[str, Any], ports: traffic.ServicePorts) -> Service:
    pool = raw.get("connectionPool")
    outlier = raw.get("outlierDetection")
    return Service(
        path=path,
        name=raw["name"],
        namespace=raw["namespace"],
        selector=_map(raw["selector"]),
        ports=tuple(
            Port(p["name"], p["port"], p["targetPort"], p.get("protocol", "http"))
            for p in raw["ports"]
        ),
        versions=tuple(Version(v["name"], _map(v["labels"])) for v in raw.get("versions") or ()),
        routes=tuple(
            _route(f"{path}.routes[{i}]", r, raw["namespace"], ports)
            for i, r in enumerate(raw.get("routes") or ())
        ),
        timeout=raw.get("timeout"),
        retries=traffic.retries(raw.get("retries")),
        connection_pool=ConnectionPool(
            pool.get("maxConnections"),
            pool.get("http1MaxPendingRequests"),
            pool.get("http2MaxRequests"),
            pool.get("maxRequestsPerConnection"),
        )
        if pool is not None
        else None,
        outlier_detection=OutlierDetection(
            outlier.get("consecutive5xxErrors"),
            outlier.get("interval"),
            outlier.get("baseEjectionTime"),
            outlier.get("maxEjectionPercent"),
        )
        if outlier is not None
        else None,
        allow=tuple(
            AllowRule(
                f"{path}.allow[{i}]",
                tuple(a.get("fromNamespaces") or ()),
                tuple(a.get("fromServiceAccounts") or ()),
                tuple(a.get("ports") or ()),
            )
            for i, a in enumerate(raw.get("allow") or ())
        ),
        rate_limit=traffic.rate_limit(f"{path}.rateLimit", raw.get("rateLimit")),
        manage_service=(raw.get("service") or {}).get("manage", True),
    )


def build_mesh(data: dict[str, Any], positions: Positions, source: str) -> Mesh:
    spec = data["spec"]
    namespaces = tuple(
        Namespace(
            ns["name"],
            f"spec.namespaces[{i}]",
            _map(ns.get("labels")),
            _map(ns.get("annotations")),
            **_namespace_extras(spec, ns),
        )
        for i, ns in enumerate(spec["namespaces"])
    )
    meshed = tuple(ns.name for ns in namespaces)
    adm = spec.get("admission") or {}
    webhook_ns = adm.get("webhookNamespace", DEFAULT_WEBHOOK_NAMESPACE)
    exempt = tuple(adm.get("exemptNamespaces", providers.default_exempt_namespaces()))
    if webhook_ns not in exempt:
        exempt += (webhook_ns,)
    images = {p.name: p.proxy_images for p in providers.all_profiles()}
    images.update({k: tuple(v) for k, v in (adm.get("proxyImages") or {}).items()})
    admission = Admission(
        allowed_namespaces=tuple(adm.get("allowedNamespaces", default_allowed_namespaces(meshed))),
        exempt_namespaces=exempt,
        webhook_namespace=webhook_ns,
        policies=MappingProxyType(
            {pid: (adm.get("policies") or {}).get(pid, "enforce") for pid in POLICY_IDS}
        ),
        exemptions=tuple(
            Exemption(e["namespace"], tuple(e["annotations"]), e["reason"], _map(e.get("selector")))
            for e in adm.get("exemptions") or ()
        ),
        proxy_images=MappingProxyType(images),
        enforcement=adm.get("enforcement", DEFAULT_ENFORCEMENT),
        kubernetes_version=adm.get("kubernetesVersion"),
        exceptions=_exceptions(adm.get("exceptions") or ()),
    )
    raw_services = spec.get("services") or ()
    ports = {(s["namespace"], s["name"]): [p["port"] for p in s["ports"]] for s in raw_services}
    return Mesh(
        name=data["metadata"]["name"],
        provider=spec["provider"],
        mtls=spec.get("mtls", DEFAULT_MTLS),
        namespaces=namespaces,
        admission=admission,
        services=tuple(
            _service(f"spec.services[{i}]", s, ports) for i, s in enumerate(raw_services)
        ),
        source=source,
        trust_domain=spec.get("trustDomain", DEFAULT_TRUST_DOMAIN),
        settings=MappingProxyType(
            {
                p.name: MappingProxyType(dict(spec[p.name]))
                for p in providers.all_profiles()
                if p.settings_schema and p.name in spec
            }
        ),
        ingress=traffic.ingress(spec.get("ingress"), ports),
        egress=traffic.egress(spec.get("egress")),
        telemetry=traffic.telemetry(spec.get("telemetry")),
        revision=spec.get("revision"),
        dataplane=spec.get("dataplane", DEFAULT_DATAPLANE),
        overrides=_overrides(spec.get("overrides") or ()),
        positions=positions,
    )


def _namespace_extras(spec: dict[str, Any], ns: dict[str, Any]) -> dict[str, Any]:
    """A namespace's revision and data plane (its own, else the spec's) and whether meshc
    renders it."""
    return {
        "revision": ns.get("revision", spec.get("revision")),
        "manage": ns.get("manage", True),
        "dataplane": ns.get("dataplane", spec.get("dataplane", DEFAULT_DATAPLANE)),
    }


def _exceptions(raw: Any) -> tuple[PolicyException, ...]:
    from .exceptions import expiry

    return tuple(
        PolicyException(
            name=e["name"],
            path=f"spec.admission.exceptions[{i}]",
            policies=tuple(e["policies"]),
            namespaces=tuple(e["namespaces"]),
            reason=e["reason"],
            kinds=tuple(e.get("kinds") or ()),
            names=tuple(e.get("names") or ()),
            selector=_map(e.get("selector")),
            paths=tuple(e.get("paths") or ()),
            expires=expiry(e["expires"]) if "expires" in e else None,
        )
        for i, e in enumerate(raw)
    )


def _overrides(raw: Any) -> tuple[Override, ...]:
    return tuple(
        Override(
            path=f"spec.overrides[{i}]",
            kind=o["target"]["kind"],
            name=o["target"]["name"],
            namespace=o["target"].get("namespace"),
            provider=o.get("provider"),
            patch=tuple(o["patch"]) if "patch" in o else None,
            merge=o.get("merge"),
            reason=o.get("reason", ""),
        )
        for i, o in enumerate(raw)
    )
