"""The ``meshc`` command line.

Each package registers its own subcommands (``register(subparsers)`` in
``meshc.compiler.cli``, ``meshc.policies.cli``, ``meshc.audit.cli`` and
``meshc.webhook.cli``) and
names its handler as ``module:function``; the handler is imported only when
its command runs, so ``meshc render`` in a pre-commit hook never pays for
Flask, the policy engines or git.

Failures take one path: a handler raises :class:`~meshc.exitcodes.UsageError`
or :class:`~meshc.compiler.errors.SpecError`, and :func:`main` prints it and
returns :attr:`ExitCode.USAGE`. Handlers return an :class:`ExitCode`.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from meshc.compiler.errors import SpecError
from meshc.exitcodes import ExitCode, UsageError

# The packages whose register() adds subcommands, in the order `meshc --help` lists them.
COMMAND_MODULES = (
    "meshc.compiler.cli",
    "meshc.policies.cli",
    "meshc.audit.cli",
    "meshc.importer.cli",
    "meshc.webhook.cli",
    # `meshc completion`, generated from the parser the others build.
    "meshc.completion",
)
# What `meshc render` and `meshc diff` render beside the mesh's own objects, from
# layers above the compiler: the admission policies the API server runs itself
# (spec.admission.enforcement native or both).
RENDER_EXTRAS = ("meshc.policies.native.render:admission_objects",)
# What `meshc capabilities` prints after the spec features: each admission rule,
# under the webhook and natively (docs/native.md).
CAPABILITY_EXTRAS = ("meshc.policies.native.capabilities:admission_rows",)

Handler = Callable[[argparse.Namespace], int]


class _Version(argparse.Action):
    """``--version``, reading the installed version only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import version

        print(f"meshc {version('meshc')}")
        parser.exit(ExitCode.OK)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meshc",
        description="Compile one Mesh spec into service-mesh manifests, check manifests "
        "against it, and enforce it at admission.",
    )
    parser.add_argument("--version", action=_Version)
    parser.set_defaults(render_extras=RENDER_EXTRAS, capability_extras=CAPABILITY_EXTRAS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def _resolve(handler: str) -> Handler:
    module, _, func = handler.partition(":")
    fn: Handler = getattr(importlib.import_module(module), func)
    return fn


def main(argv: Sequence[str] | None = None) -> int:
    return _dispatch(argv, exiting=False)[0]


def run() -> NoReturn:
    """The ``meshc`` command (the console script, ``python -m meshc``): :func:`main`, then exit.

    A command registered with ``exit_hard`` (``meshc check``) leaves what it
    built to the operating system. Freeing the YAML nodes of thousands of
    manifests object by object, and then every module, took 40-50 ms of a
    2,000-file check in which nothing is left to do but exit; and it runs with
    the cyclic collector off from start to end, since once back on, the
    collector's first pass walks every object the run made (150 ms for those
    2,000 files) only to find nothing to collect. Such a command starts no
    threads or processes that outlive it and registers no exit handlers, so its
    output, flushed here, is all there is to finish.
    """
    code, args = _dispatch(None, exiting=True)
    if not getattr(args, "exit_hard", False):
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            if stream is sys.stdout:  # its reader has gone: not an error, as in _dispatch
                code = ExitCode.OK
        except ValueError:  # a stream the command closed: nothing left in it
            pass
    os._exit(code)


def _dispatch(argv: Sequence[str] | None, exiting: bool) -> tuple[int, argparse.Namespace | None]:
    """The command's exit code, and its parsed arguments (None when they did not parse);
    ``exiting`` when the process ends with the command (:func:`run`)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        # argparse has printed the usage error (2), or --help or --version (0).
        return (exc.code if isinstance(exc.code, int) else ExitCode.USAGE), None
    if exiting and getattr(args, "exit_hard", False):
        gc.disable()
        args.process_ends = True  # what the command keeps to the end is never freed
    command = " ".join(part for part in (args.command, getattr(args, "subcommand", None)) if part)
    try:
        return int(_resolve(args.handler)(args)), args
    except UsageError as exc:
        for message in exc.messages:
            print(f"meshc {command}: {message}", file=sys.stderr)
        return ExitCode.USAGE, args
    except SpecError as exc:
        print(exc.format(), file=sys.stderr)
        return ExitCode.USAGE, args
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED, args
    except BrokenPipeError:
        # `meshc render | head` closes the pipe early; that is not an error.
        return ExitCode.OK, args


if __name__ == "__main__":
    run()
