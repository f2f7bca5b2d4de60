"""``meshc diff``: what a change to the spec does to the cluster, object by object.

Both revisions are rendered in-process from the committed spec text (or, for
``meshc diff REV`` with one revision, the spec in the working tree), so the
working tree is never written and the rendered output need not be committed.
``--format`` picks the listing (text), a pull-request comment (markdown, with
the warnings and the graph of what changed: :mod:`.review`) or JSON.
Exit status follows diff(1): 0 when the renders are the same, 1 when they
differ, 2 when a revision cannot be read or its spec is invalid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from meshc.exitcodes import ExitCode, UsageError
from meshc.terminal import paint, use_color

from .commands import options_from_args, render_with_extras
from .errors import SpecError
from .gitsource import GitSourceError, open_repo, read_blob, resolve
from .loader import load_mesh
from .model import Mesh
from .objdiff import diff_objects
from .objects import SOURCE_ANNOTATION, Obj
from .targets import RenderOptions, render

WORKING_TREE = "working tree"


def load_at(text: str, spec: str, ref: str) -> Mesh:
    """The spec text committed at ``ref``; problems are cited as ``spec@ref``."""
    cited = spec if ref == WORKING_TREE else f"{spec}@{ref}"
    return load_mesh(cited, text=text, source=cited)


def render_at(
    mesh: Mesh,
    spec: str,
    ref: str,
    options: RenderOptions,
    provider: str | None,
    args: argparse.Namespace | None = None,
) -> list[Obj]:
    """Render ``mesh`` as loaded by :func:`load_at`, the source annotations naming ``spec``.

    With ``args``, what the command line renders beside the mesh (its
    ``render_extras``: the native admission policies) is rendered too.
    """
    objects, _ = render(mesh, options, provider)
    if args is not None:
        objects = render_with_extras(mesh, args, objects, [])
    if ref != WORKING_TREE:
        for obj in objects:
            _drop_ref(obj, f"{spec}@{ref}", spec)
    return objects


def _drop_ref(obj: Obj, cited: str, spec: str) -> None:
    # The source annotation names the revision it was rendered from; that is
    # not a change to the object, and `meshc render` from a checkout omits it.
    annotations = obj["metadata"].get("annotations") or {}
    value = annotations.get(SOURCE_ANNOTATION)
    if isinstance(value, str) and value.startswith(cited + "#"):
        annotations[SOURCE_ANNOTATION] = spec + value[len(cited) :]


_LINE_STYLES = {"+ ": "green", "- ": "red", "~ ": "yellow", "warning: ": "yellow", "    ": "dim"}


def _colored(line: str) -> str:
    for prefix, style in _LINE_STYLES.items():
        if line.startswith(prefix):
            return paint(line.rstrip("\n"), style, True) + "\n"
    return line


def _working_tree(repo: Any, spec: str) -> str | None:
    path = Path(repo.working_tree_dir or ".") / spec
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise GitSourceError(f"{path}: cannot read: {exc}") from None


def run(args: argparse.Namespace) -> ExitCode:
    spec = Path(args.spec).as_posix()
    options = options_from_args(args)
    if args.base is None:
        base, head = "HEAD~1", "HEAD"
    else:
        base, head = args.base, args.head or WORKING_TREE
    texts: dict[str, str | None] = {}
    try:
        with open_repo(args.repo) as repo:
            for ref in (base, head):
                if ref == WORKING_TREE:
                    texts[ref] = _working_tree(repo, spec)
                else:
                    texts[ref] = read_blob(resolve(repo, ref), spec)
    except GitSourceError as exc:
        raise UsageError(str(exc)) from None
    if all(text is None for text in texts.values()):
        raise UsageError(
            f"{spec} exists at neither {base} nor {head} "
            "(--spec is a path from the repository root)"
        )
    meshes: dict[str, Mesh | None] = {}
    rendered: dict[str, list[Obj]] = {}
    for ref, text in texts.items():
        if text is None:
            # A spec added (or deleted) by the change: every object is new (or gone).
            print(f"meshc diff: {spec} does not exist at {ref}", file=sys.stderr)
            meshes[ref], rendered[ref] = None, []
            continue
        try:
            mesh = meshes[ref] = load_at(text, spec, ref)
            rendered[ref] = render_at(mesh, spec, ref, options, args.provider, args)
        except SpecError as exc:
            print(exc.format(), file=sys.stderr)
            raise UsageError(f"the spec at {ref} does not render") from None
    result = diff_objects(rendered[base], rendered[head])
    from .review import FORMATS, review

    found = review(spec, base, head, result, meshes[base], meshes[head])
    text = FORMATS[args.format](found)
    if args.format == "text" and use_color(sys.stdout):
        text = "".join(_colored(line) for line in text.splitlines(keepends=True))
    sys.stdout.write(text)
    return ExitCode.FINDINGS if result else ExitCode.OK
