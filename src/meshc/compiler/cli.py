"""The compiler's subcommands: render, validate, schema, capabilities and diff.

Their handlers (``commands``, ``gitdiff``) are imported only when they run.
"""

from __future__ import annotations

import argparse
from typing import Any

from meshc import providers
from meshc.options import add_format, add_output, add_spec

CAPABILITY_FORMATS = ("markdown", "json")
GRAPH_FORMATS = ("mermaid", "dot", "svg")
DIFF_FORMATS = ("text", "markdown", "json")


def add_render_options(p: argparse.ArgumentParser) -> None:
    """--provider, each provider's own choices (``--<provider>-<option>``), --allow-lossy."""
    p.add_argument("--provider", choices=providers.names(), help="override spec.provider")
    for profile in providers.all_profiles():
        for option in profile.render_options:
            p.add_argument(
                f"--{profile.name}-{option.name}",
                choices=option.choices,
                default=None,
                help=option.help,
            )
    p.add_argument(
        "--kube-version",
        metavar="X.Y",
        help="the oldest Kubernetes release the native admission policies must run on "
        "(spec.admission.enforcement native or both; default: spec.admission.kubernetesVersion, "
        "else 1.36)",
    )
    p.add_argument(
        "--allow-lossy",
        action="store_true",
        help="render features the target cannot express exactly (with a warning) instead of failing",
    )


def register(sub: Any) -> None:
    p = sub.add_parser("render", help="render a Mesh spec into Kubernetes manifests")
    add_spec(p)
    add_render_options(p)
    add_output(p, "write one file per object, and a kustomization.yaml, into DIR")
    p.add_argument(
        "--check",
        action="store_true",
        help="with -o: write nothing; when DIR differs from the render, print the "
        "difference as a unified diff, name the files and exit 1",
    )
    p.add_argument(
        "--exit-code",
        action="store_true",
        help="with -o: exit 1 when DIR had to be rewritten (for pre-commit hooks)",
    )
    p.add_argument("--ref", metavar="REV", help="render the spec as committed at this git revision")
    add_format(
        p,
        ("yaml", "json"),
        help="yaml (default): the manifests; json: a v1 List of the "
        "objects on stdout, or with -o a JSON report of what was written or drifted",
    )
    p.set_defaults(handler="meshc.compiler.commands:render")

    p = sub.add_parser("validate", help="validate Mesh spec files without rendering")
    add_spec(p, many=True, help="the Mesh spec files")
    add_format(
        p,
        ("text", "json"),
        help="text (default): file:line:col: field: message; json: every problem as an object",
    )
    p.set_defaults(handler="meshc.compiler.commands:validate")

    p = sub.add_parser("schema", help="print the JSON Schema of the Mesh spec")
    p.set_defaults(handler="meshc.compiler.commands:schema")

    p = sub.add_parser(
        "capabilities", help="print the capability matrix (spec feature x target x routing mode)"
    )
    add_format(p, CAPABILITY_FORMATS)
    p.set_defaults(handler="meshc.compiler.commands:capabilities")

    p = sub.add_parser(
        "graph", help="draw the mesh: namespaces, services, versions, routes, who may call whom"
    )
    add_spec(p)
    add_format(
        p,
        GRAPH_FORMATS,
        help="mermaid (default; GitHub renders it), dot (Graphviz), "
        "or svg (laid out by grandalf: pip install 'meshc[graph]')",
    )
    add_output(p, "write the graph to FILE instead of stdout", metavar="FILE")
    p.set_defaults(handler="meshc.compiler.commands:graph")

    p = sub.add_parser(
        "diff",
        help="object-level diff of the rendered output between two commits, or a commit "
        "and the working tree",
    )
    p.add_argument(
        "base",
        nargs="?",
        default=None,
        help="the revision before (default: HEAD~1, with HEAD as HEAD_REV)",
    )
    p.add_argument(
        "head",
        nargs="?",
        default=None,
        metavar="head_rev",
        help="the revision after (default: the working tree when BASE is given)",
    )
    add_format(
        p,
        DIFF_FORMATS,
        help="text (default), markdown (a pull-request comment with "
        "warnings and the graph of what changed) or json",
    )
    add_spec(p, help="the Mesh spec, as a path from the repository root")
    p.add_argument("--repo", default=".", help="the git repository (default: .)")
    add_render_options(p)
    p.set_defaults(handler="meshc.compiler.gitdiff:run")
