"""Apply manifests to a real API server and say which ones it refused.

Each object is created, or, when it already exists, server-side applied over
the stored one, so applying twice is harmless. Creating first matters: a create
reports a bad object as 400/422 with a cause per field, while server-side apply
reports a schema mismatch as a bare 500 ("failed to create typed patch object").
The REST path of each kind comes from the server's own discovery document, the
only source that knows a CRD's plural and scope.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s

FIELD_MANAGER = "meshc-e2e"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
# After a CRD is Established the discovery document catches up within moments.
DISCOVERY_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class ApplyError:
    """One object the API server refused (status 0: the request was never sent)."""

    ref: str
    status: int
    reason: str
    message: str
    causes: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.ref}: {self.status} {self.reason}: {self.message}"


@dataclass(frozen=True)
class _Resource:
    plural: str
    namespaced: bool


def request(
    api: k8s.ApiClient,
    method: str,
    path: str,
    *,
    query: Mapping[str, str] | None = None,
    body: object = None,
    content_type: str = "application/json",
    timeout: float = 60,
) -> tuple[int, dict[str, Any]]:
    """An authenticated request through ``api``; returns (status, decoded JSON body)."""
    _method, url, headers, _body, _post = api.param_serialize(
        method,
        path,
        query_params=list((query or {}).items()),
        header_params={"Accept": "application/json", "Content-Type": content_type},
        auth_settings=["BearerToken"],
    )
    # The client serialises a body itself for any JSON media type (its rest
    # layer matches "json" in the content type) but sends any other media type
    # (an apply patch) only as ready-made text.
    payload = body if body is None or "json" in content_type else json.dumps(body)
    response = api.call_api(_method, url, headers, body=payload, _request_timeout=timeout)
    response.read()  # type: ignore[no-untyped-call]
    try:
        data: dict[str, Any] = json.loads(response.data) if response.data else {}
    except ValueError:
        # Paths the server does not route at all answer in plain text.
        data = {"message": bytes(response.data or b"").decode(errors="replace").strip()}
    return response.status, data


def object_ref(obj: Mapping[str, Any]) -> str:
    """``Kind/namespace/name`` (or ``Kind/name``) for messages."""
    meta = obj.get("metadata") or {}
    parts = [str(obj.get("kind", "?")), meta.get("namespace"), str(meta.get("name", "?"))]
    return "/".join(p for p in parts if p)


class _Discovery:
    """Kind -> REST resource, one discovery request per apiVersion."""

    def __init__(self, api: k8s.ApiClient) -> None:
        self._api = api
        self._versions: dict[str, dict[str, _Resource]] = {}

    def lookup(self, api_version: str, kind: str) -> _Resource | None:
        kinds = self._versions.get(api_version)
        if kinds is None or kind not in kinds:
            kinds = self._fetch(api_version, wait_for=kind)
        return kinds.get(kind)

    def _fetch(self, api_version: str, wait_for: str) -> dict[str, _Resource]:
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        deadline = time.monotonic() + DISCOVERY_GRACE_SECONDS
        while True:
            status, data = request(self._api, "GET", path)
            kinds = (
                {
                    r["kind"]: _Resource(plural=r["name"], namespaced=bool(r["namespaced"]))
                    for r in data.get("resources", [])
                    if "/" not in r["name"]  # subresources such as virtualservices/status
                }
                if status == 200
                else {}
            )
            if wait_for in kinds or time.monotonic() >= deadline:
                if kinds:
                    self._versions[api_version] = kinds
                return kinds
            time.sleep(0.2)


def _collection_path(resource: _Resource, obj: Mapping[str, Any]) -> str:
    api_version = obj["apiVersion"]
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    if resource.namespaced:
        namespace = obj["metadata"].get("namespace") or "default"
        return f"{base}/namespaces/{namespace}/{resource.plural}"
    return f"{base}/{resource.plural}"


def delete_object(api_client: k8s.ApiClient, obj: Mapping[str, Any]) -> tuple[int, Any]:
    """DELETE ``obj``: the server's status and answer; 404 when neither it nor its kind is served."""
    resource = _Discovery(api_client).lookup(obj["apiVersion"], obj["kind"])
    if resource is None:
        return 404, {}  # its kind is gone (a custom resource's, with its CRD): so is it
    path = f"{_collection_path(resource, obj)}/{obj['metadata']['name']}"
    return request(api_client, "DELETE", path)


def _error_from_status(ref: str, status: int, data: Mapping[str, Any]) -> ApplyError:
    causes = tuple(
        f"{c.get('field', '')}: {c.get('message', '')}".lstrip(": ")
        for c in (data.get("details") or {}).get("causes", [])
    )
    return ApplyError(
        ref=ref,
        status=status,
        reason=str(data.get("reason", "")),
        message=str(data.get("message", data)),
        causes=causes,
    )


def _ensure_namespaces(api: k8s.ApiClient, names: Iterable[str]) -> list[ApplyError]:
    errors = []
    for name in sorted(set(names)):
        status, data = request(api, "GET", f"/api/v1/namespaces/{name}")
        if status == 200:
            continue
        status, data = request(
            api,
            "POST",
            "/api/v1/namespaces",
            body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        )
        if status not in (201, 409):
            errors.append(_error_from_status(f"Namespace/{name}", status, data))
    return errors


def apply_objects(
    api_client: k8s.ApiClient,
    objects: list[dict[str, Any]],
    dry_run: bool,
    *,
    create_namespaces: bool = True,
) -> list[ApplyError]:
    """Create or server-side apply ``objects`` in order; return what the server refused.

    Unknown fields are errors (``fieldValidation=Strict``), not silently pruned.
    With ``dry_run`` the server validates and admits (webhooks included) but
    stores nothing. ``create_namespaces`` really creates the namespaces the
    objects live in, even on a dry run: namespace admission refuses objects in
    a missing namespace, and rendered manifests do not carry their Namespace.
    """
    discovery = _Discovery(api_client)
    errors: list[ApplyError] = []
    targets: list[tuple[dict[str, Any], _Resource]] = []
    for obj in objects:
        ref = object_ref(obj)
        if (
            not obj.get("apiVersion")
            or not obj.get("kind")
            or not (obj.get("metadata") or {}).get("name")
        ):
            errors.append(
                ApplyError(ref, 0, "BadObject", "apiVersion, kind and metadata.name are required")
            )
            continue
        resource = discovery.lookup(obj["apiVersion"], obj["kind"])
        if resource is None:
            errors.append(
                ApplyError(
                    ref, 0, "NoKind", f"the server has no {obj['kind']} in {obj['apiVersion']!r}"
                )
            )
            continue
        targets.append((obj, resource))

    if create_namespaces:
        errors += _ensure_namespaces(
            api_client,
            (o["metadata"].get("namespace") or "default" for o, r in targets if r.namespaced),
        )

    query = {"fieldManager": FIELD_MANAGER, "fieldValidation": "Strict"}
    if dry_run:
        query["dryRun"] = "All"
    for obj, resource in targets:
        collection = _collection_path(resource, obj)
        status, data = request(api_client, "POST", collection, query=query, body=obj)
        if status == 409 and data.get("reason") == "AlreadyExists":
            # Replaced, not merged: an object another test stored must not lend the
            # new one fields it does not have (a merge can make a valid object invalid).
            path = f"{collection}/{obj['metadata']['name']}"
            status, stored = request(api_client, "GET", path)
            if status == 200:
                version = stored["metadata"]["resourceVersion"]
                body = {**obj, "metadata": {**obj["metadata"], "resourceVersion": version}}
                status, data = request(api_client, "PUT", path, query=query, body=body)
            else:
                data = stored
        if status not in (200, 201):
            errors.append(_error_from_status(object_ref(obj), status, data))
    return errors


# --- upstream CRDs --------------------------------------------------------------------


def _rank(path: Path, bundle: str) -> int:
    # Experimental and bundled copies of Gateway API CRDs share the standard
    # channel's names; a cluster holds one CRD per name. Standard wins, unless the
    # cluster is one a mesh installed its own bundle into (``bundle``: its name).
    parts = path.parts
    if bundle and any(p.startswith("bundled") for p in parts) and parts[0] == bundle:
        return 0
    return 2 if any(p == "experimental" or p.startswith("bundled") for p in parts) else 1


@functools.cache
def _crds_by_name(crds_dir: Path, bundle: str) -> tuple[dict[str, Any], ...]:
    files = sorted(
        crds_dir.rglob("*.yaml"), key=lambda p: (_rank(p.relative_to(crds_dir), bundle), p)
    )
    chosen: dict[str, dict[str, Any]] = {}
    for path in files:
        # libyaml: the pure-Python loader needs most of a minute for these 6 MB.
        for doc in yaml.load_all(path.read_text(), Loader=_YAML_LOADER):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                chosen.setdefault(doc["metadata"]["name"], doc)
    return tuple(chosen.values())


def upstream_crds(crds_dir: Path, bundle: str = "") -> list[dict[str, Any]]:
    """Every CRD under ``crds_dir``, one per name, standard channel first.

    ``bundle`` names a mesh whose bundled Gateway API CRDs (``<mesh>/bundled-*``)
    win instead, as on a cluster that mesh's installer set up (``linkerd``).
    Parsed once per session; treat the documents as read-only.
    """
    return list(_crds_by_name(crds_dir.resolve(), bundle))


def _established(crd: Mapping[str, Any]) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def established_crds(api_client: k8s.ApiClient, names: Iterable[str]) -> set[str]:
    """Which of ``names`` the server reports as Established."""
    ready = set()
    for name in names:
        status, data = request(api_client, "GET", f"{CRD_PATH}/{name}")
        if status == 200 and _established(data):
            ready.add(name)
    return ready


def install_crds(
    api_client: k8s.ApiClient, crds: list[dict[str, Any]], timeout: float = 120
) -> list[str]:
    """Apply ``crds`` for real and wait until all are Established; returns their names."""
    errors = apply_objects(api_client, crds, dry_run=False, create_namespaces=False)
    if errors:
        raise AssertionError("CRDs refused:\n" + "\n".join(map(str, errors)))
    pending = {crd["metadata"]["name"] for crd in crds}
    deadline = time.monotonic() + timeout
    while pending:
        pending -= established_crds(api_client, pending)
        if pending and time.monotonic() >= deadline:
            raise AssertionError(f"CRDs not Established after {timeout:.0f}s: {sorted(pending)}")
        if pending:
            time.sleep(0.2)
    return [crd["metadata"]["name"] for crd in crds]
