"""``meshc check``: the admission policies over manifests, before they reach a cluster.

Each object is judged as if it were sent to the webhook (``--operation``,
CREATE by default); an AdmissionReview document is judged as written. Exit 0
when every object would be admitted, 1 when one would be denied, 2 when the
input (spec, manifests, engine) is unusable.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .engine import EngineError, PolicyEngine, create_engine
from .manifests import Manifest, ManifestError, load_manifests
from .report import FORMATS, Finding
from .review import admission_review

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


def run(args: argparse.Namespace) -> int:
    from meshc.compiler.errors import SpecError
    from meshc.compiler.loader import load_mesh

    from .data import policy_data

    try:
        data = policy_data(load_mesh(args.spec))
    except SpecError as exc:
        return _fail(exc.format())
    except (OSError, ValueError) as exc:
        return _fail(f"{args.spec}: {exc}")
    try:
        manifests = load_manifests(args.paths)
        engine = create_engine(args.engine, data, opa_url=args.opa_url)
        findings = evaluate(engine, manifests, getattr(args, "operation", "CREATE"))
    except (ManifestError, EngineError, ValueError) as exc:
        return _fail(str(exc))
    sys.stdout.write(FORMATS[args.format](findings))
    return EXIT_FINDINGS if any(f.violation.mode == "enforce" for f in findings) else EXIT_OK


def evaluate(engine: PolicyEngine, manifests: list[Manifest], operation: Any) -> list[Finding]:
    findings: list[Finding] = []
    for i, m in enumerate(manifests):
        review = (
            m.obj if m.is_review else admission_review(m.obj, operation, uid=f"meshc-check-{i}")
        )
        findings.extend(Finding(m.file, m.line, v) for v in engine.evaluate(review))
    return findings


def _fail(message: str) -> int:
    print(f"meshc check: {message}", file=sys.stderr)
    return EXIT_USAGE
