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
import importlib
import sys
from collections.abc import Callable, Sequence

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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def _resolve(handler: str) -> Handler:
    module, _, func = handler.partition(":")
    fn: Handler = getattr(importlib.import_module(module), func)
    return fn


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        # argparse has printed the usage error (2), or --help or --version (0).
        return exc.code if isinstance(exc.code, int) else ExitCode.USAGE
    command = " ".join(part for part in (args.command, getattr(args, "subcommand", None)) if part)
    try:
        return int(_resolve(args.handler)(args))
    except UsageError as exc:
        for message in exc.messages:
            print(f"meshc {command}: {message}", file=sys.stderr)
        return ExitCode.USAGE
    except SpecError as exc:
        print(exc.format(), file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # `meshc render | head` closes the pipe early; that is not an error.
        return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
