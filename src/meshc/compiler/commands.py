"""``meshc render``, ``validate``, ``schema`` and ``capabilities``."""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from meshc import providers
from meshc.exitcodes import ExitCode, UsageError

from .errors import Problem, SpecError
from .loader import load_mesh
from .model import Mesh
from .objects import Obj, sort_objects
from .targets import RenderOptions
from .targets import render as render_mesh


def options_from_args(args: argparse.Namespace) -> RenderOptions:
    choices = {}
    for profile in providers.all_profiles():
        for option in profile.render_options:
            key = f"{profile.name}-{option.name}"
            value = getattr(args, key.replace("-", "_"), None)
            if value is not None:
                choices[key] = value
    return RenderOptions(choices=choices, allow_lossy=args.allow_lossy)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The cyclic collector off for the block, and back as it was after it.

    A render builds large acyclic trees: the collector only rescans them,
    which makes a 2,000-service spec load 3x slower and grow worse than
    linearly. Reference counting still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_at(spec: str, ref: str | None) -> Mesh:
    if ref is None:
        return load_mesh(spec)
    from .gitsource import read_at  # git is imported only for --ref

    text, source = read_at(spec, ref)
    return load_mesh(spec, text=text, source=source)


# What renders objects beside a target's, as ``module:function`` taking the
# Mesh and --kube-version and returning (objects, problems). The command line
# hands them in (``render_extras``): layers above the compiler add what they
# enforce (meshc.policies.native: the admission policies the API server runs).
Extra = Callable[[Mesh, "str | None"], tuple[list[Obj], list[Problem]]]


def extras(args: argparse.Namespace) -> list[Extra]:
    found: list[Extra] = []
    for name in getattr(args, "render_extras", ()):
        module, _, func = name.partition(":")
        found.append(getattr(importlib.import_module(module), func))
    return found


def render_with_extras(mesh: Mesh, args: argparse.Namespace, objects: list[Obj],
                       problems: list[Problem]) -> list[Obj]:
    """``objects`` with what every extra renders for ``mesh``; SpecError on any error."""
    added: list[Obj] = []
    for extra in extras(args):
        more, found = extra(mesh, getattr(args, "kube_version", None))
        added += more
        problems += found
    if any(p.level == "error" for p in problems):
        raise SpecError(problems)
    return sort_objects(objects + added) if added else objects


def compile_spec(args: argparse.Namespace) -> list[Obj]:
    """Load, validate and render; warnings go to stderr, errors raise SpecError."""
    with _no_cyclic_gc():
        mesh = load_at(args.spec, getattr(args, "ref", None))
        objects, report = render_mesh(mesh, options_from_args(args), args.provider)
        problems = list(report.warnings)
        objects = render_with_extras(mesh, args, objects, problems)
    for warning in problems:
        print(warning.format(), file=sys.stderr)
    return objects


def render(args: argparse.Namespace) -> ExitCode:
    if args.check and not args.output:
        raise UsageError("--check compares against a directory; give it with -o DIR")
    objects = compile_spec(args)
    from .serialize import dump_all

    if not args.output:
        sys.stdout.write(dump_all(objects))
        return ExitCode.OK
    from .output import diff_dir, render_files, write_dir

    files = render_files(objects)
    directory = Path(args.output)
    if args.check:
        drift = diff_dir(files, directory)
        for line in drift:
            print(f"{directory}: {line}", file=sys.stderr)
        if drift:
            print(f"{directory} is out of date: run `meshc render --spec {args.spec} "
                  f"-o {directory}`", file=sys.stderr)
        return ExitCode.FINDINGS if drift else ExitCode.OK
    try:
        changed = write_dir(files, directory)
    except OSError as exc:
        raise UsageError(f"cannot write {directory}: {exc.strerror or exc}") from None
    print(f"{directory}: {len(objects)} objects{'' if changed else ', unchanged'}", file=sys.stderr)
    # A new rendered file is untracked, so pre-commit's own "files were
    # modified" check cannot see it: the exit code has to.
    return ExitCode.FINDINGS if changed and args.exit_code else ExitCode.OK


def validate(args: argparse.Namespace) -> ExitCode:
    problems: list[Problem] = []
    for spec in args.specs:
        try:
            load_mesh(spec)
        except SpecError as exc:
            problems += exc.problems
    if problems:
        raise SpecError(problems)
    return ExitCode.OK


def schema(args: argparse.Namespace) -> ExitCode:
    from .schema import MESH_SCHEMA

    print(json.dumps(MESH_SCHEMA, indent=2, ensure_ascii=False))
    return ExitCode.OK


# What `meshc capabilities` adds after the spec features, as ``module:function``
# returning (columns, rows of (key, cells)); handed in by the command line
# (``capability_extras``): the admission rules, under the webhook and natively.
Rows = Callable[[], tuple[tuple[str, ...], list[tuple[str, tuple[str, ...]]]]]


def capability_extras(args: argparse.Namespace) -> list[Rows]:
    found: list[Rows] = []
    for name in getattr(args, "capability_extras", ()):
        module, _, func = name.partition(":")
        found.append(getattr(importlib.import_module(module), func))
    return found


def capabilities(args: argparse.Namespace) -> ExitCode:
    from .capabilities import FEATURES, columns, note, support

    cols = columns()
    extras = [extra() for extra in capability_extras(args)]
    if args.format == "json":
        table = {
            feature: {f"{t}/{m}": support(t, m, feature).value for t, m in cols}
            for feature in FEATURES
        }
        for names, rows in extras:
            table.update({key: dict(zip(names, cells)) for key, cells in rows})
        print(json.dumps(table, indent=2))
        return ExitCode.OK
    print("| feature | " + " | ".join(f"{t} ({m})" for t, m in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for feature, what in FEATURES.items():
        cells = []
        for t, m in cols:
            level = support(t, m, feature).value
            detail = note(t, m, feature)
            cells.append(f"{level}: {detail}" if detail else level)
        print(f"| `{feature}` ({what}) | " + " | ".join(cells) + " |")
    for names, rows in extras:
        print()
        print("| admission rule | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        for key, row in rows:
            print(f"| `{key}` | " + " | ".join(row) + " |")
    return ExitCode.OK
