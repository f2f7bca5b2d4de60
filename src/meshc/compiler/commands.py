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
from meshc.terminal import Progress, progress

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


def render_with_extras(
    mesh: Mesh, args: argparse.Namespace, objects: list[Obj], problems: list[Problem]
) -> list[Obj]:
    """``objects`` with what every extra renders for ``mesh``; SpecError on any error."""
    added: list[Obj] = []
    for extra in extras(args):
        more, found = extra(mesh, getattr(args, "kube_version", None))
        added += more
        problems += found
    if any(p.level == "error" for p in problems):
        raise SpecError(problems)
    return sort_objects(objects + added) if added else objects


def problem_json(problem: Problem) -> dict[str, object]:
    """A spec problem for ``--format json``: the fields of its ``file:line:col: path: message``."""
    return {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "path": problem.path,
        "message": problem.message,
        "level": problem.level,
    }


def compile_spec(
    args: argparse.Namespace, show: Progress | None = None
) -> tuple[list[Obj], list[Problem]]:
    """Load, validate and render; the objects and the warnings. Errors raise SpecError.

    Unless the format is JSON, the warnings are printed on stderr here.
    """
    with _no_cyclic_gc():
        if show is not None:
            show.stage(f"reading and validating {args.spec}")
        mesh = load_at(args.spec, getattr(args, "ref", None))
        if show is not None:
            show.stage(f"rendering {len(mesh.services)} services")
        objects, report = render_mesh(mesh, options_from_args(args), args.provider)
        problems = list(report.warnings)
        objects = render_with_extras(mesh, args, objects, problems)
    if getattr(args, "format", "yaml") != "json":
        for warning in problems:
            print(warning.format(), file=sys.stderr)
    return objects, problems


def render(args: argparse.Namespace) -> ExitCode:
    if args.output == "-":  # the usual spelling of standard output
        args.output = None
    if args.check and not args.output:
        raise UsageError("--check compares against a directory; give it with -o DIR")
    as_json = args.format == "json"
    with progress() as show:
        try:
            objects, warnings = compile_spec(args, show)
        except SpecError as exc:
            if not as_json:
                raise
            _print_json({"problems": [problem_json(p) for p in exc.problems]})
            return ExitCode.USAGE
        show.stage(f"writing {len(objects)} objects")
        return _write(args, objects, warnings, show)


def _print_json(document: object) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _write(args: argparse.Namespace, objects: list[Obj], warnings: list[Problem],
           show: Progress) -> ExitCode:  # fmt: skip
    from .serialize import dump_all

    as_json = args.format == "json"
    report: dict[str, object] = {"warnings": [problem_json(w) for w in warnings]}
    if not args.output:
        if as_json:
            show.close()
            _print_json({"apiVersion": "v1", "kind": "List", "items": objects})
        else:
            text = dump_all(objects)
            show.close()
            sys.stdout.write(text)
        return ExitCode.OK
    from .output import diff_dir, drift_diff, render_files, write_dir

    files = render_files(objects)
    directory = Path(args.output)
    if args.check:
        drift = diff_dir(files, directory)
        diff = drift_diff(files, directory) if drift else []
        show.close()
        if as_json:
            states = [line.split(": ", 1) for line in drift]
            _print_json({**report, "output": str(directory), "objects": len(objects),
                         "drift": [{"state": state, "file": rest.split(" ", 1)[0]}
                                   for state, rest in states],
                         "diff": "".join(diff)})  # fmt: skip
            return ExitCode.FINDINGS if drift else ExitCode.OK
        from meshc.terminal import paint, use_color

        color = use_color(sys.stdout)
        for line in diff:
            style = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1], "")
            if line.startswith(("+++", "---")):
                style = "bold"
            sys.stdout.write(paint(line.rstrip("\n"), style, color and bool(style)) + "\n")
        for line in drift:
            print(f"{directory}: {line}", file=sys.stderr)
        if drift:
            _warn_removed_namespaces(args, files, directory)
            print(
                f"{directory} is out of date: run `meshc render --spec {args.spec} -o {directory}`",
                file=sys.stderr,
            )
        return ExitCode.FINDINGS if drift else ExitCode.OK
    try:
        changed = write_dir(files, directory)
    except OSError as exc:
        raise UsageError(f"cannot write {directory}: {exc.strerror or exc}") from None
    show.close()
    if as_json:
        _print_json({**report, "output": str(directory), "objects": len(objects),
                     "changed": changed, "files": sorted(files)})  # fmt: skip
    else:
        print(f"{directory}: {len(objects)} objects{'' if changed else ', unchanged'}",
              file=sys.stderr)  # fmt: skip
    # A new rendered file is untracked, so pre-commit's own "files were
    # modified" check cannot see it: the exit code has to.
    return ExitCode.FINDINGS if changed and args.exit_code else ExitCode.OK


def _warn_removed_namespaces(
    args: argparse.Namespace, files: dict[str, str], directory: Path
) -> None:
    """The loud warning of a render that drops a committed Namespace (meshc.compiler.unmesh)."""
    import yaml

    from .output import read_dir
    from .unmesh import namespace_removals

    removed: list[Obj] = []
    for name, text in read_dir(directory).items():
        if name in files:
            continue
        try:
            removed += [
                d
                for d in yaml.safe_load_all(text)
                if isinstance(d, dict) and isinstance(d.get("metadata"), dict)
            ]
        except yaml.YAMLError:
            continue  # not a file meshc wrote; diff_dir already named it
    if any(o.get("kind") == "Namespace" for o in removed):
        mesh = load_at(args.spec, getattr(args, "ref", None))
        for warning in namespace_removals(removed, mesh):
            print(warning, file=sys.stderr)


def validate(args: argparse.Namespace) -> ExitCode:
    from .exceptions import expiry_warnings

    problems: list[Problem] = []
    warnings: list[Problem] = []
    for spec in args.specs:
        try:
            warnings += expiry_warnings(load_mesh(spec))
        except SpecError as exc:
            problems += exc.problems
    if args.format == "json":
        _print_json({"specs": list(args.specs), "valid": not problems,
                     "problems": [problem_json(p) for p in sorted(set(problems))],
                     "warnings": [problem_json(w) for w in warnings]})  # fmt: skip
        return ExitCode.USAGE if problems else ExitCode.OK
    for warning in warnings:
        print(warning.format(), file=sys.stderr)
    if problems:
        raise SpecError(problems)
    return ExitCode.OK


def graph(args: argparse.Namespace) -> ExitCode:
    from .graph import mesh_graph
    from .graph.render import FORMATS
    from .graph.svg import LayoutUnavailable

    with _no_cyclic_gc():
        mesh = load_mesh(args.spec)
        try:
            text = FORMATS[args.format](mesh_graph(mesh))
        except LayoutUnavailable as exc:
            raise UsageError(str(exc)) from None
    if not args.output or args.output == "-":
        sys.stdout.write(text)
        return ExitCode.OK
    from meshc.atomicfile import write_atomic

    try:
        write_atomic(Path(args.output), text.encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
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
