"""``meshc render``, ``validate``, ``schema`` and ``capabilities``."""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path

from .errors import Problem, SpecError
from .loader import load_mesh
from .model import Mesh
from .objects import Obj
from .targets import RenderOptions
from .targets import render as render_mesh

EXIT_OK, EXIT_DRIFT, EXIT_USAGE = 0, 1, 2


def _fail(problems: list[Problem]) -> int:
    for problem in problems:
        print(problem.format(), file=sys.stderr)
    return EXIT_USAGE


def options_from_args(args: argparse.Namespace) -> RenderOptions:
    return RenderOptions(
        linkerd_routing=args.linkerd_routing or "gateway-api",
        istio_api=args.istio_api or "v1",
        allow_lossy=args.allow_lossy,
    )


def load_at(spec: str, ref: str | None) -> Mesh:
    if ref is None:
        return load_mesh(spec)
    from .gitsource import read_at  # git is imported only for --ref

    text, source = read_at(spec, ref)
    return load_mesh(spec, text=text, source=source)


def compile_spec(args: argparse.Namespace) -> list[Obj]:
    """Load, validate and render; warnings go to stderr, errors raise SpecError."""
    # A render builds large acyclic trees and exits: the cyclic collector
    # only rescans them, which makes a 2,000-service spec load 3x slower and
    # grow worse than linearly. Reference counting still frees everything.
    gc.disable()
    mesh = load_at(args.spec, getattr(args, "ref", None))
    objects, report = render_mesh(mesh, options_from_args(args), args.provider)
    for warning in report.warnings:
        print(warning.format(), file=sys.stderr)
    return objects


def render(args: argparse.Namespace) -> int:
    if args.check and not args.output:
        print("meshc render: --check compares against a directory; give it with -o DIR",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        objects = compile_spec(args)
    except SpecError as exc:
        return _fail(exc.problems)
    from .serialize import dump_all

    if not args.output:
        sys.stdout.write(dump_all(objects))
        return EXIT_OK
    from .output import diff_dir, render_files, write_dir

    files = render_files(objects)
    directory = Path(args.output)
    if args.check:
        drift = diff_dir(files, directory)
        for line in drift:
            print(f"{directory}: {line}", file=sys.stderr)
        if drift:
            print(f"{directory} is out of date: run `meshc render {args.spec} -o {directory}`",
                  file=sys.stderr)
        return EXIT_DRIFT if drift else EXIT_OK
    try:
        changed = write_dir(files, directory)
    except OSError as exc:
        print(f"meshc render: cannot write {directory}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{directory}: {len(objects)} objects{'' if changed else ', unchanged'}", file=sys.stderr)
    # A new rendered file is untracked, so pre-commit's own "files were
    # modified" check cannot see it: the exit code has to.
    return EXIT_DRIFT if changed and args.exit_code else EXIT_OK


def validate(args: argparse.Namespace) -> int:
    problems: list[Problem] = []
    for spec in args.specs:
        try:
            load_mesh(spec)
        except SpecError as exc:
            problems += exc.problems
    return _fail(problems) if problems else EXIT_OK


def schema(args: argparse.Namespace) -> int:
    from .schema import MESH_SCHEMA

    print(json.dumps(MESH_SCHEMA, indent=2, ensure_ascii=False))
    return EXIT_OK


def capabilities(args: argparse.Namespace) -> int:
    from .capabilities import FEATURES, columns, note, support

    cols = columns()
    if args.format == "json":
        table = {
            feature: {f"{t}/{m}": support(t, m, feature).value for t, m in cols}
            for feature in FEATURES
        }
        print(json.dumps(table, indent=2))
        return EXIT_OK
    print("| feature | " + " | ".join(f"{t} ({m})" for t, m in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for feature, what in FEATURES.items():
        cells = []
        for t, m in cols:
            level = support(t, m, feature).value
            detail = note(t, m, feature)
            cells.append(f"{level}: {detail}" if detail else level)
        print(f"| `{feature}` ({what}) | " + " | ".join(cells) + " |")
    return EXIT_OK
