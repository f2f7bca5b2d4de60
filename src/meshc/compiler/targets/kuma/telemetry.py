"""spec.telemetry as MeshAccessLog and MeshMetric on the workloads it names (MeshTrace is
reported: see ``_TRACING``).

Each policy lives in the telemetry entry's namespace. Without ``to`` (MeshMetric, the
inbound MeshAccessLog) it is a *workload-owner* policy, and with a ``to`` of kind Mesh (the
outbound MeshAccessLog) a *consumer* one (pkg/core/resources/labels/compute.go,
ComputePolicyRole at v2.14.3): either way it selects only the proxies of its own namespace
(pkg/plugins/policies/core/matchers/dataplane.go, dppSelectedByNamespace). A selector
narrows it to the pods with those labels (top-level ``targetRef`` kind Dataplane).

Access logs (pkg/plugins/policies/meshaccesslog at v2.14.3):

- Kuma keeps a proxy's inbound and outbound logs apart: ``rules`` (inbound listeners) and
  ``to`` (outbound listeners, passthrough, direct access). A policy may not hold ``rules``
  beside ``to`` (api/v1alpha1/validator.go), nor ``from`` beside ``to`` in a workload
  namespace (ComputePolicyRole), so each entry gets two MeshAccessLogs,
  ``<name>-inbound`` and ``<name>-outbound``.
- On: a File backend writing to ``/dev/stdout``, the kuma-sidecar container's own output,
  which needs nothing outside the proxy (as Istio's ``envoy`` provider).
- Off: ``backends: []``. Kuma merges the ``to`` confs of every policy selecting a proxy as
  JSON merge patches, a list replacing the one before (rules/merge/merge.go, Confs; a
  consumer policy comes after a system one), so the outbound policy silences the outbound
  logs of broader MeshAccessLogs. Inbound rules are not merged: every rule of every policy
  that selects the proxy writes its own log (plugin/xds/rules.go,
  BuildAccessLogBuildersFromRules), so no policy turns off the inbound logs another
  MeshAccessLog writes. Kuma creates no MeshAccessLog of its own (pkg/defaults/mesh), so
  off is exact until someone adds one: reported as approximated.

Metrics (pkg/plugins/policies/meshmetric at v2.14.3): on is a Prometheus backend, the
proxy serving its Envoy statistics (per-cluster and per-listener request counts and
latencies) on port 5670 at /metrics, Kuma's defaults; off is ``backends: []``, with which
the plugin configures no metrics listener (plugin/v1alpha1/plugin.go, Apply) and which
replaces the backends of broader MeshMetrics in the merge. The Mesh meshc renders has no
``metrics`` of its own (the legacy mesh-wide Prometheus endpoint).
"""

from __future__ import annotations

from typing import Any

from ...model import Mesh
from ...model_traffic import Telemetry
from ...objects import Obj, new_object
from .. import Report
from .common import API, policy_metadata

STDOUT = "/dev/stdout"
# MeshMetric's Prometheus defaults (api/v1alpha1/meshmetric.go, PrometheusBackend).
PROMETHEUS_PORT = 5670
PROMETHEUS_PATH = "/metrics"

# A MeshTrace must name its backend (api/v1alpha1/validator.go, validateDefault), and an
# empty list would turn a broader MeshTrace's tracing off.
_TRACING = "not rendered: a MeshTrace must name a tracing backend, and the spec names none"
_INBOUND_LOGS = (
    "rendered with no backends: this turns off the outbound logs of broader "
    "MeshAccessLogs, not their inbound logs (Kuma writes every inbound rule "
    "that selects a proxy)"
)


def _policy(mesh: Mesh, t: Telemetry, kind: str, name: str, path: str, spec: dict[str, Any]) -> Obj:
    if t.selector:
        spec = {"targetRef": {"kind": "Dataplane", "labels": dict(t.selector)}, **spec}
    return new_object(API, kind, policy_metadata(mesh, kind, name, t.namespace, path), spec=spec)


def _access_logs(mesh: Mesh, t: Telemetry, report: Report) -> list[Obj]:
    if t.access_logging is None:
        return []
    path = f"{t.path}.accessLogging"
    backends = [{"type": "File", "file": {"path": STDOUT}}] if t.access_logging else []
    if not t.access_logging:
        report.lossy("telemetry.accessLogging", f"{path}.enabled", _INBOUND_LOGS)
    conf = {"backends": backends}
    return [
        _policy(
            mesh, t, "MeshAccessLog", f"{t.name}-inbound", path, {"rules": [{"default": conf}]}
        ),
        _policy(
            mesh,
            t,
            "MeshAccessLog",
            f"{t.name}-outbound",
            path,
            {"to": [{"targetRef": {"kind": "Mesh"}, "default": conf}]},
        ),
    ]


def _metrics(mesh: Mesh, t: Telemetry) -> list[Obj]:
    if t.metrics is None:
        return []
    backends = (
        [{"type": "Prometheus", "prometheus": {"port": PROMETHEUS_PORT, "path": PROMETHEUS_PATH}}]
        if t.metrics
        else []
    )
    return [
        _policy(
            mesh, t, "MeshMetric", t.name, f"{t.path}.metrics", {"default": {"backends": backends}}
        )
    ]


def telemetry_objects(mesh: Mesh, report: Report) -> list[Obj]:
    objects: list[Obj] = []
    for t in mesh.telemetry:
        if t.sampling_percent is not None:
            report.lossy("telemetry.tracing", f"{t.path}.tracing.samplingPercent", _TRACING)
        objects += _access_logs(mesh, t, report)
        objects += _metrics(mesh, t)
    return objects
