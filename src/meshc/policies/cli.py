"""The policies' subcommand: ``meshc check``."""

from __future__ import annotations

from typing import Any

from meshc.options import add_format, add_spec

from .admission import OPERATIONS
from .engine import DEFAULT_ENGINE, ENGINE_NAMES, engine_help
from .report import FORMATS


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
        "--policy",
        action="append",
        default=[],
        metavar="ID",
        help="evaluate only the policy ID (repeatable; default: every policy), "
        "e.g. injection-required: to look at one policy's findings or time it alone",
    )
    p.set_defaults(handler="meshc.policies.check:run")
