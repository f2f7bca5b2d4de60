"""``meshc diff``: what a change to the spec does to the cluster, object by object.

Both revisions are rendered in-process from the committed spec text, so the
working tree is never touched and the rendered output need not be committed.
Exit status follows diff(1): 0 when the renders are the same, 1 when they
differ, 2 when a revision cannot be read or its spec is invalid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from meshc.exitcodes import ExitCode, UsageError

from .commands import options_from_args, render_with_extras
from .errors import SpecError
from .gitsource import GitSourceError, open_repo, read_blob, resolve
from .loader import load_mesh
from .objdiff import diff_objects
from .objects import SOURCE_ANNOTATION, Obj
from .targets import RenderOptions, render


def render_at(text: str, spec: str, ref: str, options: RenderOptions,
              provider: str | None, args: argparse.Namespace | None = None) -> list[Obj]:
    """Render the spec text committed at ``ref``; problems are cited as ``spec@ref``.

    With ``args``, what the command line renders beside the mesh (its
    ``render_extras``: the native admission policies) is rendered too.
    """
    cited = f"{spec}@{ref}"
    mesh = load_mesh(cited, text=text, source=cited)
    objects, _ = render(mesh, options, provider)
    if args is not None:
        objects = render_with_extras(mesh, args, objects, [])
    for obj in objects:
        _drop_ref(obj, cited, spec)
    return objects


def _drop_ref(obj: Obj, cited: str, spec: str) -> None:
    # The source annotation names the revision it was rendered from; that is
    # not a change to the object, and `meshc render` from a checkout omits it.
    annotations = obj["metadata"].get("annotations") or {}
    value = annotations.get(SOURCE_ANNOTATION)
    if isinstance(value, str) and value.startswith(cited + "#"):
        annotations[SOURCE_ANNOTATION] = spec + value[len(cited):]


def run(args: argparse.Namespace) -> ExitCode:
    spec = Path(args.spec).as_posix()
    options = options_from_args(args)
    texts: dict[str, str | None] = {}
    try:
        with open_repo(args.repo) as repo:
            for ref in (args.base, args.head):
                texts[ref] = read_blob(resolve(repo, ref), spec)
    except GitSourceError as exc:
        raise UsageError(str(exc)) from None
    if all(text is None for text in texts.values()):
        raise UsageError(f"{spec} exists at neither {args.base} nor {args.head} "
                         "(--spec is a path from the repository root)")
    rendered: dict[str, list[Obj]] = {}
    for ref, text in texts.items():
        if text is None:
            # A spec added (or deleted) by the change: every object is new (or gone).
            print(f"meshc diff: {spec} does not exist at {ref}", file=sys.stderr)
            rendered[ref] = []
            continue
        try:
            rendered[ref] = render_at(text, spec, ref, options, args.provider, args)
        except SpecError as exc:
            print(exc.format(), file=sys.stderr)
            raise UsageError(f"the spec at {ref} does not render") from None
    result = diff_objects(rendered[args.base], rendered[args.head])
    print(f"{spec} {args.base}..{args.head}: {result.summary()}")
    for line in result.lines():
        print(line)
    return ExitCode.FINDINGS if result else ExitCode.OK
