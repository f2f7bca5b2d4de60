"""What meshc shows on a terminal and nowhere else: colour and progress.

Both go only to a stream that is a terminal, so pipes, files and CI logs get
plain, stable text. Colour also honours ``NO_COLOR`` (https://no-color.org:
set and not empty, no colour) and ``TERM=dumb``. Progress is drawn on stderr,
one line rewritten in place, by a thread that redraws it a few times a
second: a long step (rendering a large spec, one slow list call) still shows
that meshc is alive and how long it has been at it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_STYLES = {"red": "31", "green": "32", "yellow": "33", "cyan": "36", "bold": "1", "dim": "2"}
REDRAW_SECONDS = 0.2
# A step quicker than this never shows a progress line at all.
SHOW_AFTER_SECONDS = 0.5


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed, or not a real file
        return False


def use_color(stream: TextIO | None = None) -> bool:
    """Colour for ``stream`` (stdout by default): a terminal, no ``NO_COLOR``, not ``TERM=dumb``."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    return is_terminal(stream if stream is not None else sys.stdout)


def paint(text: str, style: str, enabled: bool) -> str:
    """``text`` in ``style`` (red, green, yellow, cyan, bold, dim) when ``enabled``."""
    if not enabled or not text:
        return text
    return f"\033[{_STYLES[style]}m{text}\033[0m"


class Progress:
    """One status line on a terminal: a label, a count out of a total, the elapsed time.

    Update it from the working thread (:meth:`stage`, :meth:`advance`); a
    drawing thread rewrites the line. On anything but a terminal it draws
    nothing and costs an attribute write per update.
    """

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self._stream = stream
        self._enabled = enabled
        self._label = ""
        self._done = 0
        self._total: int | None = None
        self._start = time.monotonic()
        self._stop = threading.Event()
        self._drawn = False
        self._thread: threading.Thread | None = None

    def stage(self, label: str, total: int | None = None) -> None:
        """A new step: ``label``, and its number of items when known."""
        self._label, self._done, self._total = label, 0, total

    def advance(self, count: int = 1) -> None:
        self._done += count

    def start(self) -> None:
        if self._enabled:
            self._thread = threading.Thread(target=self._run, name="meshc-progress", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._drawn:
            self._stream.write("\r\033[K")
            self._stream.flush()
            self._drawn = False

    def line(self) -> str:
        """The status line as it would be drawn now."""
        elapsed = time.monotonic() - self._start
        if self._total:
            width = 24
            filled = min(width, width * self._done // self._total)
            bar = "#" * filled + "-" * (width - filled)
            count = f" [{bar}] {self._done}/{self._total}"
        elif self._done:
            count = f" {self._done}"
        else:
            count = ""
        return f"{self._label}{count} ({elapsed:.0f}s)"

    def _run(self) -> None:
        if self._stop.wait(SHOW_AFTER_SECONDS):
            return
        while True:
            self._stream.write("\r\033[K" + self.line())
            self._stream.flush()
            self._drawn = True
            if self._stop.wait(REDRAW_SECONDS):
                return


@contextmanager
def progress(stream: TextIO | None = None, *, enabled: bool | None = None) -> Iterator[Progress]:
    """A :class:`Progress` on ``stream`` (stderr), drawn only when it is a terminal."""
    out = stream if stream is not None else sys.stderr
    bar = Progress(out, is_terminal(out) if enabled is None else enabled)
    bar.start()
    try:
        yield bar
    finally:
        bar.close()
