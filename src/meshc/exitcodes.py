"""The exit codes of every ``meshc`` command, and the one kind of usage error.

diff(1)'s convention, for every subcommand: 0 nothing to report, 1 findings
(drift, policy violations, a diff that differs), 2 bad input (a spec error, a
malformed manifest, a usage error). :func:`meshc.cli.main` turns a
:class:`UsageError` or a spec error raised anywhere below it into exit 2, so
commands raise and never print their own failures.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1
    USAGE = 2
    INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class UsageError(Exception):
    """Input meshc cannot use; each message becomes one ``meshc <command>: <message>`` line."""

    def __init__(self, *messages: str):
        if not messages:
            raise ValueError("a UsageError needs a message")
        self.messages = messages
        super().__init__("\n".join(messages))
