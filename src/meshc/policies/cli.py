"""The policies' subcommand: ``meshc check``."""

from __future__ import annotations

from typing import Any

from meshc.options import add_format, add_spec, positive_int

from .admission import OPERATIONS
from .engine import DEFAULT_ENGINE, ENGINE_NAMES, engine_help
from .report import FORMATS
from .violations import MODES


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="evaluate the admission policies over manifests, offline")
    add_spec(p, help="the Mesh spec whose policies apply")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, directories, or '-' for stdin")
    add_format(p, tuple(FORMATS))
    p.add_argument(
        "--engine",
        choices=ENGINE_NAMES,
        default=DEFAULT_ENGINE,
        help=engine_help(),
    )
    p.add_argument("--opa-url", default="http://127.0.0.1:8181")
    p.add_argument(
        "--operation",
        choices=OPERATIONS,
        default="CREATE",
        help="the admission operation each object is judged as",
    )
    p.add_argument(
        "-n",
        "--namespace",
        metavar="NS",
        help="judge objects without metadata.namespace in NS, as `kubectl apply -n NS` would "
        "place them (default: default, and the run says so)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 2 when anything is skipped as not a Kubernetes object (Helm templates, "
        "kustomize files, CI files, ...)",
    )
    p.add_argument(
        "--mode",
        choices=MODES,
        help="judge every policy in this mode, whatever spec.admission.policies says: preview "
        "what the next step of a rollout would deny (--mode enforce)",
    )
    p.add_argument(
        "--no-conflicts",
        dest="conflicts",
        action="store_false",
        help="judge only what admission judges: leave out the spec-conflict findings "
        "(manifests that define or route what the spec renders)",
    )
    p.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="ID",
        help="evaluate only the policy ID (repeatable; default: every policy), "
        "e.g. injection-required: to look at one policy's findings or time it alone",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="processes that read and judge the files, forked once the policies are loaded "
        "(Linux; default: one per 64 files, up to the CPUs available; the output is the same)",
    )
    p.set_defaults(handler="meshc.policies.check:run", exit_hard=True)
