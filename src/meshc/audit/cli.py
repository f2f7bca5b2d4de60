"""The audit's subcommand: ``meshc audit``."""

from __future__ import annotations

from typing import Any

from meshc.options import add_format, add_spec
from meshc.policies.engine import DEFAULT_ENGINE, ENGINE_NAMES, engine_help
from meshc.policies.report import FORMATS

from .reports import REPORT_APIS


def register(sub: Any) -> None:
    p = sub.add_parser(
        "audit",
        help="judge what is already in a cluster by the admission policies",
        description="List the kinds the policies judge from a live API server and judge each "
        "object as an update that leaves it as it is. Exit 0 when everything would be admitted, "
        "1 when something would be denied, 2 when the spec, the configuration or the cluster "
        "cannot be used.",
    )
    add_spec(p, help="the Mesh spec whose policies apply")
    p.add_argument("--kubeconfig", metavar="FILE",
                   help="the kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the "
                   "in-cluster service account)")  # fmt: skip
    p.add_argument("--context", help="the kubeconfig context (default: its current context)")
    p.add_argument(
        "-n",
        "--namespace",
        action="append",
        metavar="NS",
        help="audit only this namespace (repeatable; default: every namespace)",
    )
    add_format(p, tuple(FORMATS))
    p.add_argument(
        "--report",
        action="store_true",
        help="write the results as policy reports, one per namespace",
    )
    p.add_argument(
        "--report-api",
        action="append",
        choices=tuple(REPORT_APIS),
        help="the policy-report API to write (repeatable; default: openreports, "
        "openreports.io/v1alpha1; wgpolicyk8s is the older wgpolicyk8s.io/v1alpha2)",
    )
    p.add_argument("--engine", choices=ENGINE_NAMES, default=DEFAULT_ENGINE, help=engine_help())
    p.add_argument("--opa-url", default="http://127.0.0.1:8181")
    p.set_defaults(handler="meshc.audit.audit:run")
