"""Audit results as policy reports, the objects dashboards such as Policy Reporter read.

Two APIs, one shape: OpenReports (``openreports.io/v1alpha1`` ``Report`` and
``ClusterReport``, the format Kyverno is moving to) and the older
``wgpolicyk8s.io/v1alpha2`` ``PolicyReport`` and ``ClusterPolicyReport``.
One report per namespace holds the findings of the objects audited in it
(an empty report says the namespace was audited and found clean); one
cluster-wide report holds those of cluster-scoped objects (Namespaces).

Writing is idempotent: a report is created when missing, replaced only when
what it says changed (a result keeps the timestamp of the audit that first
found it), left alone otherwise, and deleted when its namespace no longer has
anything audited. Re-running an audit over an unchanged cluster writes
nothing.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from meshc.policies.violations import Violation, format_message

from .cluster import Cluster, ClusterError, Resource

SOURCE = "meshc"
CATEGORY = "Service mesh"
MANAGED_BY = "app.kubernetes.io/managed-by"
MESH_LABEL = "meshc.io/mesh"
OBJECTS_ANNOTATION = "meshc.io/audited-objects"
# etcd refuses an object past about 1.5 MiB; a result is a few hundred bytes.
MAX_RESULTS = 2000

# What each policy mode is in a report: an enforced policy's finding is a
# failure; a warn or audit policy's is a warning, with a lower severity.
RESULT = {"enforce": "fail", "warn": "warn", "audit": "warn"}
SEVERITY = {"enforce": "high", "warn": "medium", "audit": "low"}


@dataclass(frozen=True)
class ReportAPI:
    """One policy-report API: its group and version and the names of its two kinds."""

    name: str
    group: str
    version: str
    kind: str
    plural: str
    cluster_kind: str
    cluster_plural: str
    has_source: bool  # OpenReports has a report-level source and configuration

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    def resource(self, cluster_scoped: bool) -> Resource:
        if cluster_scoped:
            return Resource(self.group, self.version, self.cluster_plural, self.cluster_kind, False)
        return Resource(self.group, self.version, self.plural, self.kind, True)


OPENREPORTS = ReportAPI(
    "openreports", "openreports.io", "v1alpha1", "Report", "reports",
    "ClusterReport", "clusterreports", True,
)  # fmt: skip
WGPOLICY = ReportAPI(
    "wgpolicyk8s", "wgpolicyk8s.io", "v1alpha2", "PolicyReport", "policyreports",
    "ClusterPolicyReport", "clusterpolicyreports", False,
)  # fmt: skip
REPORT_APIS = {api.name: api for api in (OPENREPORTS, WGPOLICY)}


@dataclass(frozen=True)
class Audited:
    """One object that was judged, and what was found."""

    api_version: str
    kind: str
    namespace: str  # "" for a cluster-scoped object
    name: str
    uid: str
    violations: tuple[Violation, ...] = ()


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.deleted)} deleted"
        )


def report_name(mesh: str) -> str:
    return f"meshc-{mesh}"


def rule_of(v: Violation) -> str:
    """The rule a finding breaks: its policy's check of one field, list positions left out,
    so the same check on two objects (or two containers) is one rule."""
    return re.sub(r"\[\d+\]", "[]", v.path) or v.policy


def result(obj: Audited, v: Violation, timestamp: Mapping[str, int]) -> dict[str, Any]:
    properties = {"fix": v.fix, "path": v.path, "mode": v.mode, "source": v.source}
    resource = {"apiVersion": obj.api_version, "kind": obj.kind, "name": obj.name}
    if obj.namespace:
        resource["namespace"] = obj.namespace
    if obj.uid:
        resource["uid"] = obj.uid
    return {
        "source": SOURCE,
        "policy": v.policy,
        "rule": rule_of(v),
        "category": CATEGORY,
        "message": format_message(v),
        "result": RESULT[v.mode],
        "severity": SEVERITY[v.mode],
        "scored": True,
        "resources": [resource],
        "properties": {k: val for k, val in properties.items() if val},
        "timestamp": dict(timestamp),
    }


def _result_key(r: Mapping[str, Any]) -> tuple[str, ...]:
    resources = r.get("resources") or [{}]
    ref = resources[0]
    return (
        str(r.get("policy")), str(r.get("rule")), str(r.get("message")),
        str(ref.get("uid") or f"{ref.get('kind')}/{ref.get('namespace')}/{ref.get('name')}"),
    )  # fmt: skip


def build_report(
    api: ReportAPI,
    mesh: str,
    namespace: str,
    audited: Sequence[Audited],
    previous: Mapping[str, Any] | None = None,
    now: float | None = None,
    keep: Callable[[Mapping[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    """The report of ``audited`` (all in ``namespace``, "" for cluster-scoped objects).

    Results are sorted; one that ``previous`` already holds keeps its
    timestamp. ``keep`` selects results of ``previous`` about objects this
    audit did not read, which stay (an audit of some namespaces updates only
    their part of the cluster report).
    """
    old_results = list((previous or {}).get("results") or ())
    seen = {_result_key(r): r.get("timestamp") for r in old_results}
    instant = time.time() if now is None else now
    stamp = {"seconds": int(instant), "nanos": 0}
    results = [r for r in old_results if keep is not None and keep(r)]
    for obj in audited:
        for v in obj.violations:
            r = result(obj, v, stamp)
            old = seen.get(_result_key(r))
            if isinstance(old, dict):
                r["timestamp"] = old
            results.append(r)
    results.sort(key=lambda r: (_result_key(r)[3], r["policy"], r["rule"], r["message"]))
    summary = {status: 0 for status in ("pass", "fail", "warn", "error", "skip")}
    for r in results:
        summary[r["result"]] += 1
    metadata: dict[str, Any] = {
        "name": report_name(mesh),
        "labels": {MANAGED_BY: SOURCE, MESH_LABEL: mesh},
        "annotations": {},
    }
    if namespace:
        metadata["namespace"] = namespace
        metadata["annotations"][OBJECTS_ANNOTATION] = str(len(audited))
    report: dict[str, Any] = {
        "apiVersion": api.api_version,
        "kind": api.kind if namespace else api.cluster_kind,
        "metadata": metadata,
    }
    if api.has_source:
        report["source"] = SOURCE
    if len(results) > MAX_RESULTS:
        results = results[:MAX_RESULTS]
        if api.has_source:
            report["configuration"] = {"limits": {"maxResults": MAX_RESULTS}}
    report["summary"] = summary
    report["results"] = results
    return report


def by_namespace(audited: Iterable[Audited]) -> dict[str, list[Audited]]:
    groups: dict[str, list[Audited]] = {}
    for obj in audited:
        groups.setdefault(obj.namespace, []).append(obj)
    return groups


# What a report says: compared to decide whether it needs writing.
_CONTENT = ("source", "configuration", "summary", "results")


def _same(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    meta, want = existing.get("metadata") or {}, wanted["metadata"]
    if any((meta.get(k) or {}).get(key) != value
           for k in ("labels", "annotations") for key, value in want[k].items()):  # fmt: skip
        return False
    return all(existing.get(k) == wanted.get(k) for k in _CONTENT)


def sync_reports(
    cluster: Cluster,
    api: ReportAPI,
    mesh: str,
    audited: Sequence[Audited],
    namespaces: Sequence[str] = (),
) -> SyncResult:
    """Write one report per namespace of ``audited`` (and a cluster report), idempotently.

    Reports of this mesh in namespaces with nothing audited are deleted.
    With ``namespaces`` given, only those namespaces' reports are touched,
    and in the cluster report only the results about those Namespaces.
    """
    outcome = SyncResult()
    groups = by_namespace(audited)
    name = report_name(mesh)
    wanted_namespaces = set(groups) - {""}
    for namespace in sorted(groups, key=lambda n: (n != "", n)):
        resource = api.resource(cluster_scoped=not namespace)
        path = resource.path(namespace or None, name)
        label = f"{resource.kind} {namespace + '/' if namespace else ''}{name}"
        status, existing = cluster.get(path)
        if status not in (200, 404):
            _fail(status, existing, f"read {label}")
        keep = None
        if not namespace and namespaces:
            keep = functools.partial(_about_other_namespaces, set(namespaces))
        report = build_report(
            api, mesh, namespace, groups[namespace], existing if status == 200 else None, keep=keep
        )
        if status == 404:
            status, data = cluster.request("POST", resource.path(namespace or None), body=report)
            _check(status, data, (201,), f"create {label}")
            outcome.created.append(label)
        elif _same(existing, report):
            outcome.unchanged.append(label)
        else:
            meta = existing.get("metadata") or {}
            report["metadata"]["resourceVersion"] = meta.get("resourceVersion")
            report["metadata"]["labels"] = {
                **(meta.get("labels") or {}),
                **report["metadata"]["labels"],
            }
            report["metadata"]["annotations"] = {
                **(meta.get("annotations") or {}),
                **report["metadata"]["annotations"],
            }
            status, data = cluster.request("PUT", path, body=report)
            _check(status, data, (200,), f"update {label}")
            outcome.updated.append(label)
    # Reports of this mesh whose namespace has nothing audited any more.
    resource = api.resource(cluster_scoped=False)
    selector = {"labelSelector": f"{MANAGED_BY}={SOURCE},{MESH_LABEL}={mesh}"}
    scopes: Iterable[str | None] = namespaces or [None]
    for scope in scopes:
        status, data = cluster.get(resource.path(scope), selector)
        _check(status, data, (200,), f"list {resource.label}")
        for item in data.get("items") or ():
            meta = item.get("metadata") or {}
            ns = str(meta.get("namespace", ""))
            if meta.get("name") != name or ns in wanted_namespaces:
                continue
            status, data = cluster.request("DELETE", resource.path(ns, name))
            _check(status, data, (200, 202, 404), f"delete {resource.kind} {ns}/{name}")
            outcome.deleted.append(f"{resource.kind} {ns}/{name}")
    return outcome


def _about_other_namespaces(namespaces: set[str], r: Mapping[str, Any]) -> bool:
    ref = (r.get("resources") or [{}])[0]
    return not (ref.get("kind") == "Namespace" and ref.get("name") in namespaces)


def _check(status: int, data: Mapping[str, Any], ok: tuple[int, ...], what: str) -> None:
    if status not in ok:
        _fail(status, data, what)


def _fail(status: int, data: Mapping[str, Any], what: str) -> None:
    message = str(data.get("message") or data.get("reason") or "no message")
    if status == 404 and "could not find the requested resource" in message:
        message = "the report CRD is not installed"
    raise ClusterError(f"cannot {what}: {status} {message}")
