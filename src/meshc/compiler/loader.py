"""Read a spec file, validate it, and build the :class:`Mesh` model."""

from __future__ import annotations

import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any

from meshc import providers

from .errors import Problem, SpecError
from .model import (
    DEFAULT_ENFORCEMENT,
    DEFAULT_MTLS,
    DEFAULT_TRUST_DOMAIN,
    DEFAULT_WEBHOOK_NAMESPACE,
    Admission,
    AllowRule,
    ConnectionPool,
    Exemption,
    Match,
    Mesh,
    Namespace,
    OutlierDetection,
    Port,
    Retries,
    Route,
    Service,
    StringMatch,
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
        raise SpecError([Problem(path, 0, 0, "", "is a directory, expected a Mesh spec file")]) from None
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


def _string_match(raw: dict[str, str]) -> StringMatch:
    (kind, value), = raw.items()
    return StringMatch(kind, value)


def _route(path: str, raw: dict[str, Any]) -> Route:
    split = tuple(raw["split"].items()) if "split" in raw else ((raw["to"], 100),)
    match = None
    if "match" in raw:
        m = raw["match"]
        match = Match(
            headers=tuple((h, _string_match(v)) for h, v in (m.get("headers") or {}).items()),
            path=_string_match(m["path"]) if "path" in m else None,
        )
    return Route(path=path, split=split, name=raw.get("name", ""), match=match)


def _service(path: str, raw: dict[str, Any]) -> Service:
    retries = raw.get("retries")
    pool = raw.get("connectionPool")
    outlier = raw.get("outlierDetection")
    return Service(
        path=path,
        name=raw["name"],
        namespace=raw["namespace"],
        selector=_map(raw["selector"]),
        ports=tuple(
            Port(p["name"], p["port"], p["targetPort"], p.get("protocol", "http")) for p in raw["ports"]
        ),
        versions=tuple(Version(v["name"], _map(v["labels"])) for v in raw.get("versions") or ()),
        routes=tuple(_route(f"{path}.routes[{i}]", r) for i, r in enumerate(raw.get("routes") or ())),
        timeout=raw.get("timeout"),
        retries=Retries(
            retries["attempts"], retries.get("perTryTimeout"), tuple(retries.get("retryOn") or ())
        ) if retries is not None else None,
        connection_pool=ConnectionPool(
            pool.get("maxConnections"),
            pool.get("http1MaxPendingRequests"),
            pool.get("http2MaxRequests"),
            pool.get("maxRequestsPerConnection"),
        ) if pool is not None else None,
        outlier_detection=OutlierDetection(
            outlier.get("consecutive5xxErrors"),
            outlier.get("interval"),
            outlier.get("baseEjectionTime"),
            outlier.get("maxEjectionPercent"),
        ) if outlier is not None else None,
        allow=tuple(
            AllowRule(
                f"{path}.allow[{i}]",
                tuple(a.get("fromNamespaces") or ()),
                tuple(a.get("fromServiceAccounts") or ()),
                tuple(a.get("ports") or ()),
            )
            for i, a in enumerate(raw.get("allow") or ())
        ),
    )


def build_mesh(data: dict[str, Any], positions: Positions, source: str) -> Mesh:
    spec = data["spec"]
    namespaces = tuple(
        Namespace(ns["name"], f"spec.namespaces[{i}]", _map(ns.get("labels")), _map(ns.get("annotations")))
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
        policies=MappingProxyType({pid: (adm.get("policies") or {}).get(pid, "enforce") for pid in POLICY_IDS}),
        exemptions=tuple(
            Exemption(e["namespace"], tuple(e["annotations"]), e["reason"], _map(e.get("selector")))
            for e in adm.get("exemptions") or ()
        ),
        proxy_images=MappingProxyType(images),
        enforcement=adm.get("enforcement", DEFAULT_ENFORCEMENT),
        kubernetes_version=adm.get("kubernetesVersion"),
    )
    return Mesh(
        name=data["metadata"]["name"],
        provider=spec["provider"],
        mtls=spec.get("mtls", DEFAULT_MTLS),
        namespaces=namespaces,
        admission=admission,
        services=tuple(_service(f"spec.services[{i}]", s) for i, s in enumerate(spec.get("services") or ())),
        source=source,
        trust_domain=spec.get("trustDomain", DEFAULT_TRUST_DOMAIN),
        settings=MappingProxyType({
            p.name: MappingProxyType(dict(spec[p.name]))
            for p in providers.all_profiles() if p.settings_schema and p.name in spec
        }),
        positions=positions,
    )
