"""Spec validation: the JSON Schema for structure, then the rules across fields.

Both passes run on the raw document and report every problem they find, so a
spec author sees all of them at once. The cross-field rules are written to
tolerate structurally broken input (they skip what they cannot read), which
is what lets both passes run together.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import fastjsonschema

from . import schema_check
from . import validate_traffic as traffic
from .durations import DURATION, duration_seconds
from .errors import Problem, join_path
from .model import default_allowed_namespaces
from .schema import DNS1123_LABEL, MESH_SCHEMA
from .yamlpos import Positions

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError


def _schema_errors(data: Any) -> list[ValidationError]:
    # The compiled check answers for a valid spec, the common case, in well under a
    # millisecond (schema_check: kept compiled between processes); jsonschema walks
    # an invalid one again to report every problem it has.
    try:
        schema_check.check()(data)
        return []
    except fastjsonschema.JsonSchemaException:
        pass
    from jsonschema import Draft202012Validator

    return list(Draft202012Validator(MESH_SCHEMA).iter_errors(data))


_PATTERN_HINTS = {
    DNS1123_LABEL: "is not a DNS-1123 label (lowercase letters, digits and '-', starting and "
    "ending with a letter or digit)",
    DURATION: "is not a duration (use a number and a unit: 500ms, 3s, 1m30s)",
}
_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
}


def _path(parts: Any) -> str:
    path = ""
    for part in parts:
        path = join_path(path, part)
    return path


def _suggest(word: str, options: Any) -> str:
    by_lower = {str(o).lower(): str(o) for o in options}
    close = difflib.get_close_matches(str(word).lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


def _describe(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return _TYPE_NAMES["object" if isinstance(value, dict) else "array"]
    return repr(value)


class _Collector:
    def __init__(self, filename: str, positions: Positions):
        self.filename = filename
        self.positions = positions
        self.problems: list[Problem] = []

    def add(self, path: str, message: str, *, key: bool = False) -> None:
        line, col = self.positions.of(path, key=key)
        self.problems.append(Problem(self.filename, line, col, path, message))

    def schema_error(self, error: ValidationError) -> None:
        path = _path(error.absolute_path)
        kind, value = error.validator, error.instance
        # The subschema that failed: always a mapping in meshc's own schema.
        schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
        expected: Any = error.validator_value
        if kind == "additionalProperties" and isinstance(value, dict):
            known = schema.get("properties", {})
            for key in value:
                if key not in known:
                    field = join_path(path, key)
                    self.add(field, f"unknown field {key!r}{_suggest(key, known)}", key=True)
        elif kind == "required":
            missing = re.match(r"^'(.*)' is a required property", error.message)
            name = missing.group(1) if missing else error.message
            self.add(path, f"missing required field {name!r}")
        elif kind == "type":
            self.add(
                path, f"must be {_TYPE_NAMES.get(str(expected), expected)}, got {_describe(value)}"
            )
        elif kind == "enum":
            allowed = ", ".join(map(str, expected))
            self.add(path, f"{value!r} is not one of {allowed}{_suggest(str(value), expected)}")
        elif kind == "const":
            self.add(path, f"must be {expected!r}, got {_describe(value)}")
        elif kind == "pattern":
            hint = _PATTERN_HINTS.get(str(expected), f"does not match {expected}")
            self.add(path, f"{value!r} {hint}")
        elif kind in ("minimum", "maximum"):
            bound = "at least" if kind == "minimum" else "at most"
            self.add(path, f"{value!r} is out of range: must be {bound} {expected}")
        elif kind in ("minItems", "minProperties"):
            self.add(path, "must not be empty")
        elif kind in ("maxProperties",) and isinstance(value, dict):
            self.add(
                path,
                f"give exactly one of {', '.join(schema.get('properties', {}))}, "
                f"got {', '.join(value)}",
            )
        elif kind == "oneOf":
            self.add(path, f"{value!r} must be a port number (1-65535) or a named container port")
        elif kind == "maxLength":
            self.add(path, f"{value!r} is longer than {expected} characters")
        else:
            self.add(path, error.message)


def _items(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield i, item


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _duplicates(c: _Collector, base: str, items: Any, key: str, what: str) -> None:
    seen: dict[Any, int] = {}
    for i, item in _items(items):
        value = item.get(key)
        if value is None or isinstance(value, (dict, list)):
            continue
        if value in seen:
            c.add(
                join_path(join_path(base, i), key),
                f"duplicate {what} {value!r} (first at {base}[{seen[value]}])",
            )
        else:
            seen[value] = i


def _check_routes(c: _Collector, base: str, svc: dict[str, Any]) -> None:
    versions = {v["name"] for _, v in _items(svc.get("versions")) if isinstance(v.get("name"), str)}
    routes = list(_items(svc.get("routes")))
    _duplicates(c, join_path(base, "routes"), svc.get("routes"), "name", "route name")
    for n, (i, route) in enumerate(routes):
        rpath = join_path(join_path(base, "routes"), i)
        split, to = route.get("split"), route.get("to")
        if not traffic.route_has_destination(route):
            c.add(rpath, "a route needs split (weights per version), to (one version) or redirect")
        if split is not None and to is not None:
            c.add(join_path(rpath, "to"), "give split or to, not both")
        if isinstance(split, dict):
            for version in split:
                if version not in versions:
                    c.add(
                        join_path(rpath, "split"),
                        f"names version {version!r}, which is not declared in versions"
                        f"{_suggest(version, versions)}",
                    )
            weights = [w for w in split.values() if isinstance(w, int) and not isinstance(w, bool)]
            if len(weights) == len(split) and sum(weights) != 100:
                c.add(join_path(rpath, "split"), f"weights sum to {sum(weights)}, must be 100")
        if isinstance(to, str) and to not in versions:
            c.add(
                join_path(rpath, "to"),
                f"names version {to!r}, which is not declared in versions{_suggest(to, versions)}",
            )
        if not traffic.has_match(route) and n != len(routes) - 1:
            c.add(rpath, "a route without match takes every request, so it must be the last route")
    if routes and traffic.has_match(routes[-1][1]):
        i = routes[-1][0]
        c.add(
            join_path(join_path(base, "routes"), i),
            "the last route must have no match: it is the default route for requests no "
            "other route takes",
        )


def _check_http_features(c: _Collector, base: str, svc: dict[str, Any]) -> None:
    # Timeouts and retries act on HTTP requests: on a service whose ports are
    # all opaque TCP, neither mesh would apply them, so they would be rendered
    # into objects that do nothing (or not rendered at all). Its routes may
    # split connections (validate_traffic).
    protocols = [p.get("protocol", "http") for _, p in _items(svc.get("ports"))]
    if not protocols or any(proto != "tcp" for proto in protocols):
        return
    for key in ("timeout", "retries"):
        if svc.get(key):
            c.add(
                join_path(base, key),
                "acts on HTTP requests, but every port of this service has protocol "
                "tcp; give a port protocol http, http2 or grpc, or remove it",
                key=True,
            )


def _check_service(
    c: _Collector,
    base: str,
    svc: dict[str, Any],
    meshed: list[str],
    allowed: list[str],
    spec: traffic.SpecIndex,
) -> None:
    ns = svc.get("namespace")
    if isinstance(ns, str) and meshed and ns not in meshed:
        c.add(
            join_path(base, "namespace"),
            f"{ns!r} is not a meshed namespace (declare it in spec.namespaces){_suggest(ns, meshed)}",
        )
    _duplicates(c, join_path(base, "ports"), svc.get("ports"), "name", "port name")
    _duplicates(c, join_path(base, "ports"), svc.get("ports"), "port", "port")
    _duplicates(c, join_path(base, "versions"), svc.get("versions"), "name", "version name")
    _check_routes(c, base, svc)
    _check_http_features(c, base, svc)
    traffic.check_service(c, base, svc, spec.find)
    ports = {p.get("port") for _, p in _items(svc.get("ports"))}
    gateways = spec.gateways
    _check_duration(c, join_path(base, "timeout"), svc.get("timeout"))
    retries = svc.get("retries")
    if isinstance(retries, dict):
        _check_duration(
            c, join_path(join_path(base, "retries"), "perTryTimeout"), retries.get("perTryTimeout")
        )
    outlier = svc.get("outlierDetection")
    if isinstance(outlier, dict):
        for key in ("interval", "baseEjectionTime"):
            _check_duration(
                c, join_path(join_path(base, "outlierDetection"), key), outlier.get(key)
            )
    for i, rule in _items(svc.get("allow")):
        rpath = join_path(join_path(base, "allow"), i)
        if not rule.get("fromNamespaces") and not rule.get("fromServiceAccounts"):
            c.add(
                rpath, "an allow rule must name its callers (fromNamespaces or fromServiceAccounts)"
            )
        for j, name in enumerate(_strings(rule.get("fromNamespaces"))):
            if name not in allowed:
                c.add(
                    join_path(join_path(rpath, "fromNamespaces"), j),
                    f"{name!r} is not in spec.admission.allowedNamespaces "
                    f"({', '.join(allowed) or 'empty'}){_GATEWAY_HINT}",
                )
        for j, account in enumerate(_strings(rule.get("fromServiceAccounts"))):
            account_ns = account.partition("/")[0]
            if account_ns not in allowed and account not in gateways:
                c.add(
                    join_path(join_path(rpath, "fromServiceAccounts"), j),
                    f"{account!r} is in namespace {account_ns!r}, which is not in "
                    f"spec.admission.allowedNamespaces ({', '.join(allowed) or 'empty'})"
                    f"{_GATEWAY_HINT}",
                )
        for j, port in enumerate(rule.get("ports") or []):
            if isinstance(port, int) and port not in ports:
                c.add(
                    join_path(join_path(rpath, "ports"), j),
                    f"port {port} is not a port of this service "
                    f"({', '.join(str(p) for p in sorted(q for q in ports if isinstance(q, int)))})",
                )


# Allowing an ingress gateway's namespace would also let mesh configuration and
# workloads live there; declaring the gateway admits its identity alone.
_GATEWAY_HINT = (
    "; for an ingress gateway, declare it in spec.ingress[].gateway instead: its "
    "routes admit it as a caller"
)


def _check_duration(c: _Collector, path: str, value: Any) -> None:
    if isinstance(value, str) and re.match(DURATION, value) and duration_seconds(value) < 0.001:
        c.add(path, f"{value!r} is shorter than 1ms, the shortest duration the meshes accept")


_UNREADABLE = (TypeError, AttributeError, KeyError, ValueError, IndexError)


def validate_document(data: Any, positions: Positions, filename: str) -> list[Problem]:
    c = _Collector(filename, positions)
    errors = _schema_errors(data)
    for error in errors:
        c.schema_error(error)
    spec = data.get("spec") if isinstance(data, dict) else None
    if not isinstance(spec, dict):
        return c.problems
    # The semantic checks read the shapes the schema promises. On a service, or a
    # document, the schema rejected, a check that meets a shape it cannot read has
    # nothing to add to the schema's problems, which already make the spec invalid;
    # the checks that can read theirs still report, so every problem comes at once.
    broken = {
        error.absolute_path[2]
        for error in errors
        if list(error.absolute_path)[:2] == ["spec", "services"] and len(error.absolute_path) > 2
    }
    try:
        _check_spec(c, spec, broken)
    except _UNREADABLE:
        if not errors:
            raise
    return c.problems


def _check_spec(c: _Collector, spec: dict[str, Any], broken: set[Any]) -> None:
    _duplicates(c, "spec.namespaces", spec.get("namespaces"), "name", "namespace")
    meshed: list[str] = [
        ns["name"] for _, ns in _items(spec.get("namespaces")) if isinstance(ns.get("name"), str)
    ]
    raw_admission = spec.get("admission")
    admission: dict[str, Any] = raw_admission if isinstance(raw_admission, dict) else {}
    allowed = (
        _strings(admission.get("allowedNamespaces"))
        if "allowedNamespaces" in admission
        else list(default_allowed_namespaces(meshed))
    )
    exempt = set(_strings(admission.get("exemptNamespaces")))
    for i, ns in _items(spec.get("namespaces")):
        if isinstance(ns.get("name"), str) and ns["name"] in exempt:
            c.add(
                f"spec.namespaces[{i}].name",
                f"{ns['name']!r} is meshed and also listed in spec.admission.exemptNamespaces",
            )
    for i, exemption in _items(admission.get("exemptions")):
        target = exemption.get("namespace")
        if isinstance(target, str) and target not in meshed:
            c.add(
                f"spec.admission.exemptions[{i}].namespace",
                f"{target!r} is not a meshed namespace; exemptions apply to meshed namespaces only",
            )
    _check_installation(c, spec)
    _check_exceptions(c, spec, admission)
    _check_overrides(c, spec)
    services = spec.get("services")
    index = traffic.SpecIndex(spec)
    seen: dict[tuple[Any, Any], int] = {}
    for i, svc in _items(services):
        base = f"spec.services[{i}]"
        ident = (svc.get("namespace"), svc.get("name"))
        if all(isinstance(x, str) for x in ident):
            if ident in seen:
                c.add(
                    join_path(base, "name"),
                    f"duplicate service {ident[0]}/{ident[1]} "
                    f"(first at spec.services[{seen[ident]}])",
                )
            seen.setdefault(ident, i)
        try:
            _check_service(c, base, svc, meshed, allowed, index)
        except _UNREADABLE:
            if i not in broken:
                raise
    traffic.check_spec(c, spec, meshed, index)


# --- fitting an existing installation -------------------------------------------------


def _check_installation(c: _Collector, spec: dict[str, Any]) -> None:
    """Revisions only where the mesh has them; no namespace label or annotation that
    would contradict the injection markers meshc renders."""
    from types import SimpleNamespace

    from meshc import providers

    try:
        profile = providers.get(str(spec.get("provider")))
    except KeyError:
        return
    if "revision" in spec and not profile.revisions:
        c.add(
            "spec.revision",
            f"{profile.title} has no control-plane revisions (this is Istio's "
            "istio.io/rev); remove it",
            key=True,
        )
    _check_dataplane(c, profile, "spec.dataplane", spec.get("dataplane"))
    mtls = spec.get("mtls") if isinstance(spec.get("mtls"), str) else "STRICT"
    given = spec.get(profile.name) if isinstance(spec.get(profile.name), dict) else None
    settings = profile.settings(given)
    facts = SimpleNamespace(mtls=mtls, settings_for=lambda _provider: settings)
    for i, ns in _items(spec.get("namespaces")):
        base = f"spec.namespaces[{i}]"
        if "revision" in ns and not profile.revisions:
            c.add(
                f"{base}.revision",
                f"{profile.title} has no control-plane revisions (this is "
                "Istio's istio.io/rev); remove it",
                key=True,
            )
        revision = ns.get("revision", spec.get("revision"))
        _check_dataplane(c, profile, f"{base}.dataplane", ns.get("dataplane"))
        dataplane = ns.get("dataplane", spec.get("dataplane"))
        markers = profile.namespace_markers(
            facts,
            SimpleNamespace(
                name=ns.get("name"),
                revision=revision if isinstance(revision, str) else None,
                dataplane=dataplane if dataplane in profile.dataplanes else "sidecar",
            ),
        )
        _check_sync_options(c, base, ns.get("annotations"))
        for section in ("labels", "annotations"):
            owned = set(profile.injection_keys.get(section, ())) | set(markers[section])
            given = ns.get(section)
            for key in given if isinstance(given, dict) else ():
                if key in owned:
                    c.add(
                        f"{base}.{section}.{key}",
                        f"{key!r} is one of the injection markers meshc sets from the spec "
                        f"({', '.join(f'{k}: {v}' for k, v in markers[section].items()) or 'none'}"
                        f"); remove it{_marker_hint(profile.revisions)}",
                        key=True,
                    )


def _check_dataplane(c: _Collector, profile: Any, path: str, value: Any) -> None:
    """sidecar is every mesh's; another data plane only where the profile has it."""
    if value is None or value == "sidecar" or not isinstance(value, str):
        return
    if value not in profile.dataplanes:
        c.add(
            path,
            f"{profile.title} has no {value} data plane (ambient is Istio's: ztunnel and "
            "waypoints); remove it or set it to sidecar",
            key=True,
        )


def _marker_hint(revisions: bool) -> str:
    return (
        " (choose the control plane with spec.revision or this namespace's revision)"
        if revisions
        else ""
    )


def _check_sync_options(c: _Collector, base: str, annotations: Any) -> None:
    from .core import NAMESPACE_SYNC_OPTIONS, SYNC_OPTIONS_ANNOTATION

    value = annotations.get(SYNC_OPTIONS_ANNOTATION) if isinstance(annotations, dict) else None
    if not isinstance(value, str):
        return
    for option in (o.strip() for o in value.split(",")):
        if option.partition("=")[0] in ("Prune", "Delete"):
            c.add(
                f"{base}.annotations.{SYNC_OPTIONS_ANNOTATION}",
                f"{option!r}: meshc renders every Namespace with {NAMESPACE_SYNC_OPTIONS}, so "
                "that no sync deletes a namespace and its workloads; remove it",
            )


def _check_exceptions(c: _Collector, spec: dict[str, Any], admission: dict[str, Any]) -> None:
    """Unique exception names, readable expiries; exemptions grant capture annotations only."""
    from meshc import providers

    from .exceptions import expiry

    _duplicates(c, "spec.admission.exceptions", admission.get("exceptions"), "name", "exception")
    for i, e in _items(admission.get("exceptions")):
        if "expires" in e:
            try:
                expiry(e["expires"])
            except ValueError as exc:
                c.add(
                    f"spec.admission.exceptions[{i}].expires",
                    f"{e['expires']!r} is not a date (2026-01-31) or an RFC 3339 time "
                    f"(2026-01-31T18:00:00Z): {exc}",
                )
    try:
        profile = providers.get(str(spec.get("provider")))
    except KeyError:
        return
    for i, exemption in _items(admission.get("exemptions")):
        for j, key in enumerate(_strings(exemption.get("annotations"))):
            if key not in profile.capture_annotations:
                c.add(
                    f"spec.admission.exemptions[{i}].annotations[{j}]",
                    f"{key!r} is not a traffic-capture annotation of {profile.title} "
                    f"({', '.join(sorted(profile.capture_annotations))}), so granting it does "
                    "nothing; to let pods run without the proxy or with another setting, add "
                    "an exception (spec.admission.exceptions) for the policy and the objects",
                )


def _check_overrides(c: _Collector, spec: dict[str, Any]) -> None:
    """Each override carries exactly one patch."""
    for i, override in _items(spec.get("overrides")):
        given = [k for k in ("patch", "merge") if k in override]
        if len(given) != 1:
            c.add(
                f"spec.overrides[{i}]",
                "give patch (RFC 6902 operations) or merge (a JSON merge patch), exactly one",
            )
