"""Validate rendered Kubernetes objects against the real upstream schemas, as the API server would.

Custom resources are checked against the ``openAPIV3Schema`` of the *served* versions of the CRDs
in ``shared/crds``; built-in kinds against the Kubernetes OpenAPI schemas shipped by
``kubernetes-validate`` (strict variant: unknown fields are errors). Every object also gets the
``metadata`` rules the API server applies in Go and no schema expresses: name syntax per kind,
namespace present exactly for namespaced kinds, label and annotation syntax.

    validate(obj)                                  # [] or ["HTTPRoute ns/web: spec.x: unknown field"]
    assert_valid(objs, gateway_channel="linkerd")  # AssertionError listing every error
    check(obj).cel_rules_skipped                   # CEL rules this object reached, not evaluated

Gateway API CRDs exist in several channels under the same names; a cluster has one of them.
``gateway_channel`` picks which one wins ("standard" by default, "experimental", or "linkerd" for
the older experimental bundle Linkerd installs); CRDs a channel lacks come from the standard one.

Not checked: CEL ``x-kubernetes-validations`` (counted only; the kube-apiserver e2e tests run
them) and defaulting, beyond "a field with a default is never missing".
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import ValidationError
from jsonschema.exceptions import best_match
from jsonschema.validators import Draft202012Validator, extend
from referencing import Registry, Resource

from .paths import CRDS
from .schemas_formats import FORMATS
from .schemas_meta import cluster_scoped, metadata_errors

# The release tools/build.sh pins for the end-to-end API server, so both checks agree.
KUBERNETES_VERSION = "1.36"
STANDARD = "standard"

# kubernetes-validate's shared definitions, which hold the ObjectMeta schema CRDs leave out.
_DEFINITIONS = "https://kubernetes.io/api/_definitions.json"
_OBJECT_META = f"{_DEFINITIONS}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_JUNCTORS = ("allOf", "anyOf", "oneOf")
_NULL = {"type": "null"}
# Keywords whose meaning is the same in a Kubernetes structural schema and in JSON Schema 2020-12.
_KEPT = frozenset({
    "type", "required", "enum", "pattern", "format", "default", "minLength", "maxLength",
    "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "minimum", "maximum",
    "multipleOf", "x-kubernetes-validations", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
})  # fmt: skip


@dataclass(frozen=True)
class Result:
    """What validating one object found."""

    errors: tuple[str, ...]
    # CEL rules on the schema nodes this object reached; none of them was evaluated.
    cel_rules_skipped: int
    # Where the schema came from, e.g. "crds/istio/crd-all.gen.yaml (v1)" or "Kubernetes 1.36".
    schema: str


def validate(
    obj: Mapping[str, Any],
    *,
    gateway_channel: str = STANDARD,
    kubernetes_version: str = KUBERNETES_VERSION,
) -> list[str]:
    """Human-readable errors, each naming the object and field path; [] when ``obj`` is valid."""
    return list(
        check(obj, gateway_channel=gateway_channel, kubernetes_version=kubernetes_version).errors
    )


def assert_valid(objs: Iterable[Mapping[str, Any]], **kwargs: Any) -> None:
    """Fail with every error of every object; an empty input fails too, since it proves nothing."""
    __tracebackhide__ = True
    if isinstance(objs, Mapping):
        raise TypeError("assert_valid takes an iterable of objects: wrap a single object in a list")
    results = [check(obj, **kwargs) for obj in objs]
    if not results:
        raise AssertionError("assert_valid got no objects to validate")
    bad = [result for result in results if result.errors]
    if bad:
        lines = "\n".join(f"  {error}" for result in bad for error in result.errors)
        raise AssertionError(f"{len(bad)} of {len(results)} objects are invalid:\n{lines}")


def check(
    obj: Mapping[str, Any],
    *,
    gateway_channel: str = STANDARD,
    kubernetes_version: str = KUBERNETES_VERSION,
) -> Result:
    """Validate one object and say how much of it went unchecked (CEL rules)."""
    if gateway_channel not in gateway_channels():
        raise ValueError(
            f"unknown gateway_channel {gateway_channel!r}: use one of {gateway_channels()}"
        )
    if not isinstance(obj, Mapping):
        return Result((f"not a Kubernetes object: {type(obj).__name__} {obj!r:.80}",), 0, "none")
    subject = _describe(obj)
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return Result((f"{subject}: apiVersion and kind must be set to strings",), 0, "none")
    group, _, version = api_version.rpartition("/")

    # Built-in kinds first: their groups never hold CRDs, and a test that validates only
    # Deployments should not pay for parsing every CRD file.
    validator = _core_validator(kubernetes_version, group, version, kind)
    if validator is not None:
        namespaced, schema = not cluster_scoped(group, kind), f"Kubernetes {kubernetes_version}"
    elif (crd := _crds(gateway_channel).get((group, kind))) is None:
        error = (
            f"{subject}: unknown kind {kind!r} in {api_version!r}: no CRD for it in {CRDS} "
            f"and no Kubernetes {kubernetes_version} schema"
        )
        return Result((error,), 0, "none")
    elif version not in crd.served:
        served = ", ".join(f"{group}/{v}" for v in crd.served)
        error = f"{subject}: apiVersion {api_version!r} is not served by the {kind} CRD in "
        return Result((error + f"crds/{crd.source} (served: {served})",), 0, "none")
    else:
        validator = _crd_validator(gateway_channel, group, kind, version, kubernetes_version)
        namespaced, schema = crd.namespaced, f"crds/{crd.source} ({version})"

    problems = list(metadata_errors(obj, group=group, kind=kind, namespaced=namespaced))
    counter = [0]
    token = _cel_rules_reached.set(counter)
    try:
        for error in validator.iter_errors(obj):
            problems.extend(_messages(error))
    finally:
        _cel_rules_reached.reset(token)
    problems.sort(key=lambda problem: _sort_key(problem[0]))
    lines = (f"{subject}: {_format_path(path) or '<object>'}: {msg}" for path, msg in problems)
    return Result(tuple(dict.fromkeys(lines)), counter[0], schema)


@functools.cache
def gateway_channels() -> tuple[str, ...]:
    """The channels ``gateway_channel`` accepts, read from the directory names under shared/crds."""
    return tuple(sorted({_channel_of(path.relative_to(CRDS)) for path in CRDS.rglob("*.yaml")}))


# --- custom resource definitions -------------------------------------------------------------


@dataclass(frozen=True)
class _Crd:
    group: str
    kind: str
    namespaced: bool
    served: Mapping[str, Mapping[str, Any]]  # version -> openAPIV3Schema
    source: str  # path under shared/crds


def _channel_of(relative: Path) -> str:
    """Which Gateway API channel a CRD file belongs to, from its directory names."""
    dirs = relative.parts[:-1]
    for index, part in enumerate(dirs):
        if part == "experimental":
            return "experimental"
        if part.startswith("bundled"):
            # linkerd/bundled-gateway-api: named after the project that bundles it
            return dirs[index - 1] if index else part
    return STANDARD


@functools.cache
def _crd_files() -> tuple[tuple[str, str, tuple[Mapping[str, Any], ...]], ...]:
    """Every CRD document under shared/crds as (path, channel, documents), parsed once."""
    files = []
    for path in sorted(CRDS.rglob("*.yaml")):
        # The C loader parses the multi-megabyte Istio and Argo CD files several times faster;
        # it is also much faster on a whole string than on a stream it reads piecemeal.
        text = path.read_text(encoding="utf-8")
        docs = tuple(doc for doc in yaml.load_all(text, Loader=yaml.CSafeLoader) if doc)
        relative = path.relative_to(CRDS)
        files.append((relative.as_posix(), _channel_of(relative), docs))
    if not files:
        raise FileNotFoundError(
            f"no CRDs under {CRDS}: shared/ must be checked out beside the repo"
        )
    return tuple(files)


@functools.cache
def _crds(channel: str) -> dict[tuple[str, str], _Crd]:
    """One CRD per (group, kind), as in a cluster: the channel's own files win, then standard."""
    rank = {channel: 0, STANDARD: 1}
    crds: dict[tuple[str, str], _Crd] = {}
    for source, _, docs in sorted(_crd_files(), key=lambda f: (rank.get(f[1], 2), f[0])):
        for doc in docs:
            spec = doc["spec"]
            served = {
                v["name"]: v["schema"]["openAPIV3Schema"] for v in spec["versions"] if v["served"]
            }
            crd = _Crd(
                spec["group"], spec["names"]["kind"], spec["scope"] == "Namespaced", served, source
            )
            crds.setdefault((crd.group, crd.kind), crd)
    return crds


@functools.cache
def _crd_validator(channel: str, group: str, kind: str, version: str, k8s: str) -> Any:
    schema = _root_schema(_crds(channel)[(group, kind)].served[version])
    return _Validator(schema, registry=_k8s_registry(k8s), format_checker=FORMATS)


def _root_schema(node: Mapping[str, Any]) -> dict[str, Any]:
    """A whole custom resource: the API server always allows apiVersion, kind and ObjectMeta."""
    root = _translate(node)
    properties = root.setdefault("properties", {})
    properties["apiVersion"] = {"type": "string"}
    properties["kind"] = {"type": "string"}
    own = node.get("properties", {}).get("metadata", {})
    # A CRD may narrow metadata.name (nothing else); that applies on top of ObjectMeta.
    properties["metadata"] = (
        {"allOf": [{"$ref": _OBJECT_META}, _translate(own, structural=False)]}
        if own.get("properties")
        else {"$ref": _OBJECT_META}
    )
    return root


def _translate(node: Mapping[str, Any], *, structural: bool = True) -> dict[str, Any]:
    """One node of a Kubernetes structural schema as JSON Schema 2020-12.

    ``structural`` is False inside allOf/anyOf/oneOf/not, where Kubernetes allows only value
    validations: a branch listing ``properties`` constrains those fields and closes nothing.
    """
    out = {key: value for key, value in node.items() if key in _KEPT}
    if "properties" in node:
        out["properties"] = {
            name: _translate(sub, structural=structural) for name, sub in node["properties"].items()
        }
    if isinstance(node.get("additionalProperties"), Mapping):
        out["additionalProperties"] = _translate(
            node["additionalProperties"], structural=structural
        )
    if "items" in node:
        out["items"] = _translate(node["items"], structural=structural)
    for junctor in _JUNCTORS:
        if junctor in node:
            out[junctor] = [_translate(branch, structural=False) for branch in node[junctor]]
    if "not" in node:
        out["not"] = _translate(node["not"], structural=False)
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        # OpenAPI 3.0 marks an exclusive bound with a boolean beside minimum/maximum.
        if node.get(bound) is True and limit in out:
            out[bound] = out.pop(limit)
    if node.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if not structural:
        return out

    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    if node.get("x-kubernetes-embedded-resource"):
        properties = out.setdefault("properties", {})
        properties.setdefault("apiVersion", {"type": "string"})
        properties.setdefault("kind", {"type": "string"})
        properties.setdefault("metadata", {"$ref": _OBJECT_META})
        out["required"] = list(dict.fromkeys([*out.get("required", []), "apiVersion", "kind"]))
    if "required" in out:
        # Defaults are filled in before validation, so a defaulted field is never missing.
        defaulted = {name for name, sub in node.get("properties", {}).items() if "default" in sub}
        out["required"] = [name for name in out["required"] if name not in defaulted]
    closed = out.get("type") == "object" or "properties" in out
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if closed and "additionalProperties" not in node and not preserve:
        # Kubernetes prunes fields its schema does not name; a strict apply rejects them.
        out["additionalProperties"] = False
    if node.get("nullable"):
        out = _nullable(out)
    return out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if any(key in schema for key in (*_JUNCTORS, "not")):
        # A null skips every other check in Kubernetes, these branches included.
        return {"anyOf": [_NULL, schema]}
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema["type"] = [*types, "null"]
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return schema


# --- built-in kinds ---------------------------------------------------------------------------


@functools.cache
def _k8s_schema_dir(version: str) -> Path:
    root = Path(str(resources.files("kubernetes_validate"))) / "kubernetes-json-schema"
    directory = root / f"v{version}.0-local-strict"
    if not directory.is_dir():
        shipped = sorted(
            (d.name[1:].split(".0-")[0] for d in root.iterdir() if d.name.endswith("-strict")),
            key=lambda v: tuple(int(n) for n in v.split(".")),
        )
        raise LookupError(
            f"kubernetes-validate {metadata.version('kubernetes-validate')} has no schemas for "
            f"Kubernetes {version}; it has {', '.join(shipped)} "
            "(pip install -U kubernetes-validate for newer releases)"
        )
    return directory


@functools.cache
def _k8s_registry(version: str) -> Registry[Any]:
    """The shared definitions every Kubernetes schema refers to, loaded once per version."""
    definitions = json.loads((_k8s_schema_dir(version) / "_definitions.json").read_bytes())
    registry: Registry[Any] = Registry().with_resource(
        definitions["$id"], Resource.from_contents(definitions)
    )
    return registry


@functools.cache
def _core_validator(k8s: str, group: str, version: str, kind: str) -> Any | None:
    # kubernetes_validate.validate() stops at the first error and re-reads the 1.8 MB definitions
    # on every call, so its schema files are used directly. File names keep only the group's first
    # label (rbac.authorization.k8s.io -> rbac); the group-version-kind inside decides.
    group_part = f"-{group.split('.')[0]}" if group else ""
    path = _k8s_schema_dir(k8s) / f"{kind.lower()}{group_part}-{version}.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_bytes())
    if {"group": group, "version": version, "kind": kind} not in schema.get(
        "x-kubernetes-group-version-kind", []
    ):
        return None
    return _Validator(schema, registry=_k8s_registry(k8s), format_checker=FORMATS)


# --- Kubernetes keywords JSON Schema lacks ----------------------------------------------------

_cel_rules_reached: ContextVar[list[int]] = ContextVar("_cel_rules_reached")


def _count_cel_rules(
    validator: Any, rules: list[Any], instance: Any, schema: Mapping[str, Any]
) -> None:
    # Running CEL needs a CEL engine; counting the rules lets a test state what went unchecked.
    counter = _cel_rules_reached.get(None)
    if counter is not None:
        counter[0] += len(rules)


def _unique_map_keys(
    validator: Any, keys: list[str], instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """``x-kubernetes-list-type: map``: no two items may share their key fields."""
    if schema.get("x-kubernetes-list-type") != "map" or not isinstance(instance, list):
        return
    item_properties = schema.get("items", {}).get("properties", {})
    seen: dict[str, int] = {}
    for index, item in enumerate(instance):
        if not isinstance(item, Mapping):
            continue
        key = {k: item.get(k, item_properties.get(k, {}).get("default")) for k in keys}
        token = json.dumps(key, sort_keys=True)
        if token in seen:
            message = f"duplicate entry for key {token} (first at index {seen[token]})"
            yield ValidationError(message, path=[index])
        seen.setdefault(token, index)


_Validator = extend(
    Draft202012Validator,
    {"x-kubernetes-validations": _count_cel_rules, "x-kubernetes-list-map-keys": _unique_map_keys},
)


# --- error messages ---------------------------------------------------------------------------

FieldPath = tuple[str | int, ...]
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _messages(error: ValidationError) -> Iterator[tuple[FieldPath, str]]:
    """One or more (path, message) pairs for a jsonschema error, worded like the API server."""
    path: FieldPath = tuple(error.absolute_path)
    instance = error.instance
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = error.schema.get("properties", {})
        for key in instance:
            if key not in known:
                yield (*path, key), "unknown field"
    elif error.validator == "required":
        for key in error.validator_value:
            if key not in instance:
                yield (*path, key), "required field is missing"
    elif error.validator == "anyOf" and error.validator_value[0] == _NULL:
        for sub in error.context or ():
            if sub.relative_schema_path[0] == 1:
                yield from _messages(sub)
    elif error.validator in ("oneOf", "anyOf") and (fields := _oneof_fields(error.validator_value)):
        present = [field for field in fields if field in instance] or ["none"]
        optional = any("not" in branch for branch in error.validator_value)
        quantity = "at most one" if optional else "exactly one"
        yield path, f"set {quantity} of {', '.join(fields)}; found {', '.join(present)}"
    elif error.validator in ("oneOf", "anyOf") and error.context:
        yield from _no_alternative(error)
    elif error.validator == "type" and instance is None:
        # Kubernetes drops a null it may not store, so the live object would differ from Git.
        yield path, "null is not allowed: the field is not nullable (the API server drops it)"
    else:
        yield path, _shorten(error.message)


def _no_alternative(error: ValidationError) -> Iterator[tuple[FieldPath, str]]:
    """Explain an anyOf/oneOf that nothing matched by the branch that came closest."""
    context = error.context or []
    if all(sub.absolute_path == error.absolute_path for sub in context):
        # Alternatives of one value (ipv4 or ipv6, string or integer): list them all.
        reasons = " | ".join(dict.fromkeys(_shorten(sub.message) for sub in context))
        yield tuple(error.absolute_path), f"no alternative matches: {reasons}"
    else:
        yield from _messages(best_match(context))


def _shorten(message: str) -> str:
    # jsonschema quotes the whole instance; for an object that can be pages long.
    return message if len(message) <= 240 else message[:237] + "..."


def _oneof_fields(branches: list[Mapping[str, Any]]) -> list[str]:
    """The field names, when the branches only say "set one of these fields" (a protobuf oneof)."""
    fields: list[str] = []
    for branch in branches:
        if set(branch) == {"required"}:
            fields.extend(branch["required"])
        elif not (
            set(branch) == {"not"}
            and set(branch["not"]) == {"anyOf"}
            and all(set(alternative) == {"required"} for alternative in branch["not"]["anyOf"])
        ):
            return []
    return list(dict.fromkeys(fields))


def _sort_key(path: FieldPath) -> list[tuple[int, str]]:
    return [(part, "") if isinstance(part, int) else (-1, part) for part in path]


def _format_path(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text


def _describe(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        meta = {}
    name = meta.get("name") or "<no name>"
    namespace = meta.get("namespace")
    return f"{obj.get('kind') or '<no kind>'} {f'{namespace}/' if namespace else ''}{name}"
