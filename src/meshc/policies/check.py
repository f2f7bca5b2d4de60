"""``meshc check``: the admission policies over manifests, before they reach a cluster.

Each object is judged as if it were sent to the webhook (``--operation``,
CREATE by default); an AdmissionReview document is judged as written. The
exit code is the admission decision (:func:`~meshc.policies.engine.decide`,
the webhook's too) over every finding: 0 when every object would be admitted
(warn and audit findings are printed and admitted), 1 when one would be
denied, 2 when the input (spec, manifests, engine) is unusable.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from meshc.exitcodes import ExitCode, UsageError

from .admission import admission_review
from .engine import Decision, EngineError, PolicyEngine, create_engine, decide
from .manifests import Manifest, ManifestError, load_manifests
from .report import FORMATS, Finding


def run(args: argparse.Namespace) -> ExitCode:
    from meshc.compiler.loader import load_mesh

    from .data import only_policies, policy_data

    try:
        data = policy_data(load_mesh(args.spec))  # a SpecError reaches meshc.cli.main
    except (OSError, ValueError) as exc:
        raise UsageError(f"{args.spec}: {exc}") from None
    try:
        data = only_policies(data, getattr(args, "policy", ()))
        manifests = load_manifests(args.paths)
        engine = create_engine(args.engine, data, opa_url=args.opa_url)
        findings = evaluate(engine, manifests, getattr(args, "operation", "CREATE"))
    except (ManifestError, EngineError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    sys.stdout.write(FORMATS[args.format](findings))
    return exit_code(decide(f.violation for f in findings))


def exit_code(decision: Decision) -> ExitCode:
    """1 when the decision denies (as the webhook would), 0 when it admits."""
    return ExitCode.OK if decision.allowed else ExitCode.FINDINGS


def evaluate(engine: PolicyEngine, manifests: list[Manifest], operation: Any) -> list[Finding]:
    findings: list[Finding] = []
    for i, m in enumerate(manifests):
        review = (
            m.obj if m.is_review else admission_review(m.obj, operation, uid=f"meshc-check-{i}")
        )
        findings.extend(Finding(m.file, m.line, v) for v in engine.evaluate(review))
    return findings
