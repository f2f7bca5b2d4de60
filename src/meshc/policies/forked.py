"""One function over several shares of work at once, in forked processes, its results in order.

``meshc check`` reads and judges files at about 0.2 ms of CPU each, under
Python's global interpreter lock: on a machine with more than one core, a
large run is split into shares, one judged here and each other in a child
forked after start-up, when the spec, the policy data and the compiled
policies are loaded once for all. A child sends its result back pickled
through a pipe, and the results come back in the shares' order, whatever
order the processes finish in, so the output is the same as from one process.

Forking is what makes this cheaper than the run it divides (no second
start-up), so it is used only where ``os.fork`` is dependable: Linux
(:func:`available`).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

Share = TypeVar("Share")
Result = TypeVar("Result")


class ChildFailed(Exception):
    """A child raised something that could not be sent back as it was; the message is its traceback."""


def available() -> bool:
    """Whether :func:`fork_map` runs shares in children here (else it runs them one by one)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def fork_map(work: Callable[[Share], Result], shares: Sequence[Share]) -> list[Result]:
    """``[work(share) for share in shares]``, the shares after the first in forked children.

    What ``work`` raises in a child is raised here, for the first share in
    order that raised; when this process's own share raises, the children
    are stopped. Where forking is not :func:`available`, the shares run here
    one after another.
    """
    if len(shares) < 2 or not available():
        return [work(share) for share in shares]
    # Nothing buffered may be written twice, by this process and by a child.
    sys.stdout.flush()
    sys.stderr.flush()
    children: list[tuple[int, int]] = []  # (pid, read end of its pipe)
    try:
        for share in shares[1:]:
            children.append(_fork(work, share))
        results = [work(shares[0])]
        while children:
            pid, fd = children[0]
            with os.fdopen(fd, "rb") as pipe:
                sent = pipe.read()
            children.pop(0)
            os.waitpid(pid, 0)
            results.append(cast(Result, _received(sent)))
        return results
    finally:
        for pid, fd in children:  # only when this process's own share raised
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            with contextlib.suppress(OSError):
                os.close(fd)


def _fork(work: Callable[[Share], Result], share: Share) -> tuple[int, int]:
    read, write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write)
        return pid, read
    # The child: never returns into the caller's code.
    status = 1
    try:
        os.close(read)
        try:
            sent = pickle.dumps((True, work(share)), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            sent = _raised(exc)
        with os.fdopen(write, "wb") as pipe:
            pipe.write(sent)
        status = 0
    finally:
        os._exit(status)


def _raised(exc: BaseException) -> bytes:
    try:
        return pickle.dumps((False, exc), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - an exception that does not pickle
        text = "".join(traceback.format_exception(exc))
        return pickle.dumps((False, ChildFailed(text)), protocol=pickle.HIGHEST_PROTOCOL)


def _received(sent: bytes) -> object:
    if not sent:
        raise ChildFailed("a worker process ended without a result")
    ok, value = pickle.loads(sent)
    if not ok:
        raise value
    return value
