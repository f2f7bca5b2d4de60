"""Reload the spec while serving, and never lose the last good configuration.

Two halves. In the supervisor, :class:`SpecReload` checks a changed spec
(the spec watcher polls it by content, as the certificate): it loads it
exactly as a worker would — validate, compile the policy data, build the
engine, answer a probe review — and only if that succeeds does it copy the
text to the snapshot the workers load. A spec that stops validating is
reported (log, the ``meshc_config_reload_failures_total`` metric, the
``/readyz`` body through the status file) and the snapshot stays as it was.

In each worker, :class:`SnapshotFollower` watches that snapshot. When it
changes, the worker builds a new State from it on a thread of its own while
requests go on being answered with the old one, then swaps it in with one
assignment (:class:`~meshc.webhook.state.LiveState`): requests in flight
finish with the state they began with, later ones get the new one, and no
worker is replaced. Once no request uses the old state any more, its judge
threads end and its memory is freed.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from meshc.atomicfile import write_atomic
from meshc.webhook.settings import Settings

if TYPE_CHECKING:
    from meshc.webhook.state import LiveState, State

log = logging.getLogger("meshc.webhook")
# How often a worker looks at the snapshot (one stat): a reload reaches the
# workers at most this long after the supervisor has accepted it.
SNAPSHOT_POLL_SECONDS = 0.5
# A worker that could not load a snapshot the supervisor accepted (an OPA
# server that did not take the data, say) tries again this often.
RETRY_SECONDS = 10.0
# How long a swapped-out state may still be in use by a request: reading the
# body and the decision deadline are far shorter. Past this it is closed anyway.
RETIRE_SECONDS = 60.0
# The smallest review the policies must answer: a CONNECT of nothing.
PROBE = {
    "apiVersion": "admission.k8s.io/v1",
    "kind": "AdmissionReview",
    "request": {
        "uid": "meshc-startup-probe",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "operation": "CONNECT",
        "namespace": "default",
        "object": None,
    },
}


def config_problem(settings: Settings, text: str) -> str | None:
    """Why a worker could not start with this spec text, or None."""
    from meshc.compiler.errors import SpecError
    from meshc.policies.engine import EngineError
    from meshc.webhook.state import load_state

    try:
        state = load_state(settings, text)
        if settings.engine in ("embedded", "wasm") and state.engine is not None:
            # Policies that compile can still lack the entry point, and would
            # then deny everything; the OPA engine is not asked here, since a
            # sidecar OPA may start after the webhook.
            state.engine.evaluate(PROBE)
    except SpecError as exc:
        return f"the spec cannot be loaded:\n{exc.format()}"
    except EngineError as exc:
        return f"the policy engine cannot start: {exc}"
    except (OSError, ValueError) as exc:
        return f"the policies cannot be read: {exc}"
    return None


class SpecReload:
    """The ``accept`` check of the spec watcher: validate, then snapshot."""

    def __init__(self, settings: Settings):
        from meshc.webhook.metrics import reload_failures

        self.settings = settings
        self.snapshot = Path(settings.spec_snapshot)
        self.status = Path(settings.status_file)
        self.failures = reload_failures()

    def take_snapshot(self, text: str) -> None:
        write_atomic(self.snapshot, text.encode("utf-8"))
        write_atomic(self.status, b"{}")

    def accept(self) -> bool:
        try:
            text = Path(self.settings.spec).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problem: str | None = f"cannot read the spec {self.settings.spec!r}: {exc}"
        else:
            problem = config_problem(self.settings, text)
        if problem is None:
            self.take_snapshot(text)
            log.info("the spec %s changed and loads: the workers swap it in", self.settings.spec)
            return True
        self.failures.inc()
        log.error(
            "the spec %s changed but cannot be used; the workers keep the last good "
            "configuration: %s",
            self.settings.spec,
            problem,
        )
        status = {
            "config": "the last good spec: the spec on disk does not load",
            "spec_errors": problem.splitlines(),
        }
        write_atomic(self.status, json.dumps(status).encode("utf-8"))
        return False


class SnapshotFollower:
    """In a worker: the state built from the supervisor's spec snapshot, swapped when it changes.

    ``first()`` loads the snapshot as it is at start-up; ``start()`` then
    polls it on a daemon thread (``check()``). ``on_retired`` runs after an
    old state has been released (the worker re-freezes its heap there).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        interval: float = SNAPSHOT_POLL_SECONDS,
        on_retired: Callable[[], object] = lambda: None,
    ):
        self.settings = settings
        self.path = Path(settings.spec_snapshot)
        self.interval = interval
        self.on_retired = on_retired
        self.live: LiveState | None = None
        self.seen: tuple[int, int, int] | None = None  # the snapshot file in use
        self.digest = ""  # and its content
        self.failed_at: float | None = None
        self.swaps = 0
        self._stop = threading.Event()

    def _read(self) -> tuple[str, tuple[int, int, int], str]:
        # One open: the identity and the content are of the same file, even
        # if the supervisor renames a new one over it meanwhile.
        with self.path.open("rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
        return (
            data.decode("utf-8"),
            (st.st_ino, st.st_mtime_ns, st.st_size),
            hashlib.sha256(data).hexdigest(),
        )

    def first(self) -> LiveState:
        """The worker's state at start-up, from the snapshot as it is now."""
        from meshc.webhook.state import LiveState, load_state

        text, self.seen, self.digest = self._read()
        self.live = LiveState(load_state(self.settings, text))
        return self.live

    def check(self) -> bool:
        """Swap in a state built from the snapshot if it has changed; whether it did."""
        from meshc.webhook.state import load_state

        assert self.live is not None, "first() comes first"
        try:
            st = os.stat(self.path)
        except OSError:
            return False  # the supervisor replaces it by rename: never missing for long
        if (st.st_ino, st.st_mtime_ns, st.st_size) == self.seen:
            return False
        if self.failed_at is not None and time.monotonic() - self.failed_at < RETRY_SECONDS:
            return False
        text, seen, digest = self._read()
        if digest == self.digest:
            self.seen = seen
            return False
        try:
            state = load_state(self.settings, text)
        except Exception:
            # The supervisor loaded this very text; what failed here is of
            # this worker (memory, an OPA server): it keeps the state it has.
            log.exception("worker %d cannot load the new spec; it keeps the last one", os.getpid())
            self.failed_at = time.monotonic()
            return False
        state.metrics = self.live.current.metrics  # the worker's counters, whatever the spec
        self.seen, self.digest, self.failed_at = seen, digest, None
        self.swaps += 1
        log.info("worker %d now judges with the new spec", os.getpid())
        # No name here for the old state: _retire waits for it to be released.
        self._retire(self.live.swap(state))
        return True

    def _retire(self, old: State) -> None:
        """Once no request holds ``old``, end its threads and free it."""
        released = weakref.ref(old)
        close = old.closer()
        del old
        deadline = time.monotonic() + RETIRE_SECONDS
        while released() is not None and time.monotonic() < deadline:
            if self._stop.wait(0.05):
                return
        close()
        self.on_retired()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:
                log.exception("following the spec snapshot failed")

    def start(self) -> None:
        threading.Thread(target=self._loop, name="meshc-spec-follower", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


def refreeze() -> None:
    """Collect what a released state left and freeze the rest again (see webhook/wsgi.py)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
