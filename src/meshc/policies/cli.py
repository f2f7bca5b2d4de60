"""The policies' subcommand: ``meshc check``."""

from __future__ import annotations

from typing import Any

from meshc.options import add_format, add_spec

from .engine import ENGINE_NAMES
from .report import FORMATS
from .review import OPERATIONS


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="evaluate the admission policies over manifests, offline")
    add_spec(p, help="the Mesh spec whose policies apply")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, directories, or '-' for stdin")
    add_format(p, tuple(FORMATS))
    p.add_argument(
        "--engine",
        choices=ENGINE_NAMES,
        default="embedded",
        help="embedded: rego-cpp (default; quickest to start); wasm: the policies as OPA "
        "compiles them to WebAssembly; opa: an OPA server",
    )
    p.add_argument("--opa-url", default="http://127.0.0.1:8181")
    p.add_argument(
        "--operation",
        choices=OPERATIONS,
        default="CREATE",
        help="the admission operation each object is judged as",
    )
    p.set_defaults(handler="meshc.policies.check:run")
