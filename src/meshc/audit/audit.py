"""``meshc audit``: judge what is already stored in a cluster, as admission would judge it now.

Admission sees only new writes. Objects created before the webhook was
installed, before their namespace joined the mesh, or while a fail-open
webhook was down were never judged. The audit lists every kind the policies
judge (``meshc.policies.judged``, the webhook's own rules) from the API
server, page by page, and judges each object as an UPDATE that leaves it as
it is: the same engine, policies and decision as ``meshc check`` and the
webhook. A stored Pod is what the cluster runs, so it is judged by the
outcome rules (its review carries no ``meshc.io/offline`` marker); pod
templates are judged by intent, as at admission. Objects in exempt
namespaces are not read: the webhook never sees them either.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from meshc.exitcodes import ExitCode, UsageError
from meshc.policies.admission import admission_review
from meshc.policies.check import exit_code
from meshc.policies.engine import EngineError, PolicyEngine, create_engine, decide
from meshc.policies.report import FORMATS, Finding
from meshc.terminal import paint, progress, use_color

from .cluster import Cluster, ClusterError, Resource, connect
from .native import native_problems
from .reports import REPORT_APIS, Audited, sync_reports

USERNAME = "meshc-audit"


@dataclass
class AuditResult:
    audited: list[Audited] = field(default_factory=list)
    kinds: list[Resource] = field(default_factory=list)
    not_served: list[str] = field(default_factory=list)
    exempt: int = 0
    seconds: float = 0.0

    @property
    def findings(self) -> list[Finding]:
        return [Finding("", 0, v) for obj in self.audited for v in obj.violations]

    def summary(self) -> str:
        decision = decide(f.violation for f in self.findings)
        namespaces = len({o.namespace for o in self.audited if o.namespace})
        text = (
            f"audited {len(self.audited)} objects of {len(self.kinds)} kinds in {namespaces} "
            f"namespaces in {self.seconds:.1f}s: {len(decision.denials)} denied, "
            f"{len(decision.warnings)} warnings, {len(decision.audits)} audit findings"
        )
        if self.exempt:
            text += f"; {self.exempt} objects in exempt namespaces not judged"
        if self.not_served:
            text += f"; not served here: {', '.join(g or 'core' for g in self.not_served)}"
        return text


def audit(
    cluster: Cluster,
    engine: PolicyEngine,
    exempt_namespaces: Sequence[str],
    namespaces: Sequence[str] = (),
    show: Any = None,
) -> AuditResult:
    """List and judge every judged kind (in ``namespaces``, or everywhere)."""
    started = time.monotonic()
    outcome = AuditResult()
    outcome.kinds, outcome.not_served = cluster.judged_resources()
    exempt = set(exempt_namespaces)
    for resource in outcome.kinds:
        scopes: Sequence[str | None] = namespaces if namespaces else [None]
        if namespaces and not resource.namespaced:
            scopes = [None]
        for scope in scopes:
            if show is not None:
                show.stage(f"auditing {resource.label}" + (f" in {scope}" if scope else ""))
            for page in cluster.list_objects(resource, scope):
                for obj in page:
                    name = str((obj.get("metadata") or {}).get("name", ""))
                    if namespaces and resource.kind == "Namespace" and name not in namespaces:
                        continue
                    judged = _judge(engine, resource, obj, exempt)
                    if judged is None:
                        outcome.exempt += 1
                    else:
                        outcome.audited.append(judged)
                if show is not None:
                    show.advance(len(page))
    outcome.seconds = time.monotonic() - started
    return outcome


def _judge(
    engine: PolicyEngine, resource: Resource, obj: dict[str, Any], exempt: set[str]
) -> Audited | None:
    """The judged object; None when it lies in an exempt namespace (or is one)."""
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    namespace = str(meta.get("namespace", "")) if resource.namespaced else ""
    if (namespace or (name if resource.kind == "Namespace" else "")) in exempt:
        return None
    uid = str(meta.get("uid", ""))
    review = admission_review(obj, "UPDATE", uid=uid, offline=False, username=USERNAME)
    violations = tuple(engine.evaluate(review))
    return Audited(resource.api_version, resource.kind, namespace, name, uid, violations)


def run(args: argparse.Namespace) -> ExitCode:
    from meshc.compiler.loader import load_mesh
    from meshc.policies.data import policy_data

    mesh = load_mesh(args.spec)  # a SpecError reaches meshc.cli.main
    try:
        data = policy_data(mesh)
        engine = create_engine(args.engine, data, opa_url=args.opa_url)
    except (EngineError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    namespaces = tuple(dict.fromkeys(args.namespace or ()))
    apis = [REPORT_APIS[name] for name in dict.fromkeys(args.report_api or ["openreports"])]
    try:
        with connect(args.kubeconfig, args.context) as cluster, progress() as show:
            result = audit(cluster, engine, mesh.admission.exempt_namespaces, namespaces, show)
            show.stage("checking the native admission policies")
            native = native_problems(cluster, mesh)
            show.stage("writing reports")
            synced = [
                (api, sync_reports(cluster, api, mesh.name, result.audited, namespaces))
                for api in (apis if args.report else ())
            ]  # fmt: skip
    except ClusterError as exc:
        raise UsageError(str(exc)) from None
    except EngineError as exc:
        raise UsageError(f"no policy decision could be made: {exc}") from None
    findings = result.findings
    sys.stdout.write(FORMATS[args.format](findings))
    summary = sys.stdout if args.format == "text" else sys.stderr
    decision = decide(f.violation for f in findings)
    color = use_color(summary)
    style = "red" if decision.denials else "yellow" if findings else "green"
    print(paint(result.summary(), style, color), file=summary)
    for api, outcome in synced:
        print(f"{api.group} reports: {outcome.summary()}", file=summary)
    for problem in native:
        print(paint(f"native enforcement: {problem}", "red", color), file=summary)
    code = exit_code(decision)
    return max(code, ExitCode.FINDINGS) if native else code
