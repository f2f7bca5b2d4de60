"""``meshc import``'s handler: read, import, write the spec, report what was left."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from meshc.atomicfile import write_atomic
from meshc.exitcodes import ExitCode, UsageError
from meshc.policies.manifests import Manifest, ManifestError, scan_manifests

from . import import_manifests
from .emit import to_yaml


def _read(args: argparse.Namespace) -> tuple[list[Manifest], list[str]]:
    try:
        scan = scan_manifests(args.paths)
    except ManifestError as exc:
        raise UsageError(str(exc)) from None
    return scan.manifests, [s.format() for s in scan.skipped]


def run(args: argparse.Namespace) -> int:
    namespaces = args.namespace or []
    if args.kubeconfig:
        if args.paths:
            raise UsageError("give manifest paths or --kubeconfig, not both")
        from .cluster import read

        manifests, skipped = read(args.kubeconfig, namespaces)
        default_namespace = "default"
    else:
        if not args.paths:
            raise UsageError("give manifest paths (or '-'), or --kubeconfig")
        if len(namespaces) > 1:
            raise UsageError(
                "with files, --namespace names the one namespace of objects that name none"
            )
        manifests, skipped = _read(args)
        default_namespace = namespaces[0] if namespaces else "default"
    result = import_manifests(
        manifests, namespace=default_namespace, name=args.name, provider=args.provider
    )
    if result.malformed:
        raise UsageError(*result.malformed)
    sources = (
        [f"the cluster of {args.kubeconfig}"]
        if args.kubeconfig
        else sorted({m.file for m in manifests})
    )
    header = [
        "A Mesh spec written by `meshc import` from "
        + (
            ", ".join(sources[:5]) + (f" and {len(sources) - 5} more" if len(sources) > 5 else "")
            if sources
            else "nothing"
        )
        + "."
    ]
    if result.left:
        header.append(
            f"{len(result.left)} objects or fields were left out: see the stderr of meshc import."
        )
    text = to_yaml(result.spec, header)
    if args.output and args.output != "-":
        try:
            write_atomic(Path(args.output), text.encode("utf-8"))
        except OSError as exc:
            raise UsageError(f"{args.output}: cannot write: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
    for line in skipped:
        print(line, file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for finding in result.carried:
        print(finding.format(), file=sys.stderr)
    for finding in result.left:
        print(finding.format(), file=sys.stderr)
    print(
        f"meshc import: {result.imported} objects imported, {len(result.carried)} fields "
        f"carried by overrides, {len(result.left)} left out",
        file=sys.stderr,
    )
    return ExitCode.FINDINGS if result.left else ExitCode.OK
