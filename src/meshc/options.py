"""The spellings every subcommand shares, and argparse types for numbers.

One place for each: the spec is always ``-s/--spec FILE``, a destination
always ``-o/--output``, an output format always ``--format``; a number that
is out of range is an argparse error (exit 2 with the usage line) before any
command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

DEFAULT_SPEC = "mesh.yaml"


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def port(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {value}")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    # `not >`, so that NaN is refused too.
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def add_spec(
    parser: argparse.ArgumentParser,
    *,
    many: bool = False,
    required: bool = False,
    help: str = "the Mesh spec file ('-' for stdin)",
) -> None:
    """``-s/--spec``: one file (default mesh.yaml), or with ``many`` one or more."""
    if many:
        parser.add_argument(
            "-s",
            "--spec",
            dest="specs",
            metavar="SPEC",
            nargs="+",
            action="extend",
            required=True,
            help=help,
        )
        return
    default = None if required else DEFAULT_SPEC
    parser.add_argument(
        "-s",
        "--spec",
        metavar="SPEC",
        default=default,
        required=required,
        help=help + ("" if required else f" (default: {DEFAULT_SPEC})"),
    )


def add_output(
    parser: argparse.ArgumentParser, help: str, *, metavar: str = "DIR", required: bool = False
) -> None:
    parser.add_argument("-o", "--output", metavar=metavar, required=required, help=help)


def add_format(parser: argparse.ArgumentParser, choices: Sequence[str], help: str = "") -> None:
    """``--format``, the first choice being the default."""
    parser.add_argument(
        "--format",
        choices=list(choices),
        default=choices[0],
        help=help or f"output format (default: {choices[0]})",
    )
