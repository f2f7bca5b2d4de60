"""``meshc check``: the admission policies over manifests, before they reach a cluster.

The paths are read as a repository holds them (:func:`~meshc.policies.manifests.scan_manifests`):
what is not a Kubernetes object to apply is skipped, each with a line saying
why (``--strict`` makes that an error). Each object is judged as the webhook
would judge it once the API server sent it (``--operation``, CREATE by
default; :mod:`meshc.policies.offline`: its namespace, the exempt namespaces,
the webhook's mutation); an AdmissionReview document is judged as written.
A finding is placed on the line of the field it names. The exit code is the
admission decision (:func:`~meshc.policies.engine.decide`, the webhook's too)
over every finding: 0 when every object would be admitted (warn and audit
findings are printed and admitted), 1 when one would be denied, 2 when the
input (spec, manifests, engine) is unusable. The run ends with a summary on
stderr, clean or not.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from meshc.exitcodes import ExitCode, UsageError

from .admission import admission_review
from .engine import Decision, EngineError, PolicyEngine, create_engine, decide
from .manifests import Manifest, ManifestError, Scan, scan_manifests
from .offline import OfflineAdmission
from .report import FORMATS, Finding


def run(args: argparse.Namespace) -> ExitCode:
    with _no_cyclic_gc():
        return _run(args)


def _run(args: argparse.Namespace) -> ExitCode:
    from meshc.compiler.loader import load_mesh

    from .data import only_policies, policy_data

    mesh = load_mesh(args.spec)  # a SpecError reaches meshc.cli.main
    try:
        data = policy_data(mesh)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{args.spec}: {exc}") from None
    if getattr(args, "mode", None):
        data["modes"] = {policy: args.mode for policy in data["modes"]}
    try:
        data = only_policies(data, getattr(args, "policy", ()))
        scan = scan_manifests(args.paths)
    except (ManifestError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    for skipped in scan.skipped:
        print(skipped.format(), file=sys.stderr)
    if getattr(args, "strict", False) and scan.skipped:
        raise UsageError(f"{len(scan.skipped)} document(s) skipped, and --strict makes that an "
                         "error: check only Kubernetes objects, or drop --strict")
    offline = OfflineAdmission.of(mesh, getattr(args, "namespace", None))
    try:
        engine = create_engine(args.engine, data, opa_url=args.opa_url)
        tally = Tally()
        findings = evaluate(engine, scan.manifests, getattr(args, "operation", "CREATE"),
                            offline=offline, tally=tally)
    except (EngineError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    # --policy narrows the run to admission policies; spec conflicts are none of them.
    if getattr(args, "conflicts", True) and not getattr(args, "policy", None):
        findings += spec_conflicts(mesh, scan.manifests, offline.default_namespace)
    for line in tally.defaulted_lines(offline.default_namespace, explicit=bool(offline.namespace)):
        print(line, file=sys.stderr)
    sys.stdout.write(FORMATS[args.format](findings))
    decision = decide(f.violation for f in findings)
    print(summary(scan, tally, findings, decision), file=sys.stderr)
    return exit_code(decision)


def spec_conflicts(mesh: Any, manifests: Sequence[Manifest], namespace: str) -> list[Finding]:
    """Manifests that define what the spec renders, or route what it routes
    (:mod:`meshc.policies.conflicts`)."""
    from meshc.compiler.targets import RenderOptions, render

    from .conflicts import find_conflicts

    rendered, _ = render(mesh, RenderOptions(allow_lossy=True))
    return find_conflicts(mesh, rendered, manifests, namespace)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The cyclic collector off for a run, and back as it was after it.

    Each manifest keeps its YAML nodes (for the line of a finding): hundreds of
    thousands of objects the collector would otherwise rescan on every pass,
    which made a run over 2,000 manifests twice as slow. They are acyclic;
    reference counting frees them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def exit_code(decision: Decision) -> ExitCode:
    """1 when the decision denies (as the webhook would), 0 when it admits."""
    return ExitCode.OK if decision.allowed else ExitCode.FINDINGS


@dataclass
class Tally:
    """What happened to the objects besides their findings."""

    judged: int = 0
    exempt: Counter[str] = field(default_factory=Counter)  # exempt namespace -> objects
    defaulted: Counter[str] = field(default_factory=Counter)  # file -> objects without a namespace

    def defaulted_lines(self, namespace: str, explicit: bool) -> list[str]:
        """One line saying where objects without a namespace were judged (none when
        --namespace said it)."""
        if explicit or not self.defaulted:
            return []
        objects = sum(self.defaulted.values())
        files = sorted(self.defaulted)
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        return [(f"meshc check: {objects} object{'s' if objects != 1 else ''} without "
                f"metadata.namespace ({shown}) judged in namespace {namespace!r}, as `kubectl "
                "apply` without -n would place them; give --namespace NS to judge them where "
                "they are deployed")]


def evaluate(
    engine: PolicyEngine,
    manifests: Sequence[Manifest],
    operation: Any,
    *,
    offline: OfflineAdmission | None = None,
    tally: Tally | None = None,
) -> list[Finding]:
    """Every finding on ``manifests``, each on the line of the field it names.

    Without ``offline``, each object is judged as written (in ``default`` when it
    names no namespace), as before meshc check did what admission does first.
    """
    tally = tally if tally is not None else Tally()
    findings: list[Finding] = []
    for i, m in enumerate(manifests):
        uid = f"meshc-check-{i}"
        if offline is None:
            review = m.obj if m.is_review else admission_review(m.obj, operation, uid=uid)
            notices: tuple[Any, ...] = ()
        else:
            prepared = offline.prepare(m, operation, uid)
            if prepared.defaulted:
                tally.defaulted[m.file] += 1
            if prepared.review is None:
                tally.exempt[prepared.exempt] += 1
                continue
            review, notices = prepared.review, prepared.notices
        tally.judged += 1
        for v in (*notices, *engine.evaluate(review)):
            findings.append(Finding(m.file, m.line_of(v.path), v))
    return findings


def summary(scan: Scan, tally: Tally, findings: Sequence[Finding], decision: Decision) -> str:
    """The last line of every run: what was read, judged and skipped, findings by policy."""
    files = scan.files - scan.files_skipped
    parts = [(f"{tally.judged} object{'s' if tally.judged != 1 else ''} checked in {files} "
             f"file{'s' if files != 1 else ''}")]
    if scan.skipped:
        parts.append(f"{len(scan.skipped)} skipped ({scan.files_skipped} whole "
                     f"file{'s' if scan.files_skipped != 1 else ''})")
    exempt = sum(tally.exempt.values())
    if exempt:
        names = ", ".join(sorted(tally.exempt))
        parts.append(f"{exempt} in exempt namespaces not judged ({names})")
    by_policy = Counter(f.violation.policy for f in findings)
    if by_policy:
        parts.append(f"{len(findings)} finding{'s' if len(findings) != 1 else ''}: "
                     + ", ".join(f"{p} {n}" for p, n in sorted(by_policy.items())))
    else:
        parts.append("no findings")
    verdict = "denied" if not decision.allowed else "admitted"
    return f"meshc check: {'; '.join(parts)}; {verdict}"
