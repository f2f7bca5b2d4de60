"""``meshc import``: registered here, handled by :mod:`meshc.importer.commands`."""

from __future__ import annotations

from typing import Any

from meshc import providers
from meshc.options import add_output


def register(sub: Any) -> None:
    p = sub.add_parser(
        "import",
        help="write one Mesh spec from the mesh configuration a team already has (Istio, "
        "Gateway API, Linkerd, SMI, Kuma and Consul objects, with their Services and "
        "workloads)",
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="manifest files, directories (searched for YAML and JSON) or '-'; "
        "kustomize files, Helm charts and CI files are skipped with a line each",
    )
    p.add_argument(
        "--kubeconfig",
        metavar="K",
        help="read the objects from the cluster of this kubeconfig instead of files "
        "(needs the cluster extra: pip install 'meshc[cluster]'); objects meshc "
        "rendered itself are skipped with a line",
    )
    add_output(p, "write the spec to FILE (atomically) instead of stdout", metavar="FILE")
    p.add_argument(
        "-n",
        "--namespace",
        action="append",
        metavar="NS",
        help="with files: the namespace of objects that name none (default: "
        "default); with --kubeconfig: read this namespace only (repeatable; "
        "default: every namespace)",
    )
    p.add_argument(
        "--name",
        help="the spec's metadata.name (default: the meshc.io/mesh label "
        "of a render read back, else imported)",
    )
    p.add_argument(
        "--provider",
        choices=providers.names(),
        help="spec.provider (default: the mesh most of the objects are for)",
    )
    p.set_defaults(handler="meshc.importer.commands:run")
