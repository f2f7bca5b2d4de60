"""A time limit on every decision, so the API server always gets an answer in time.

rego-cpp's input parser grows with the square of a list's or map's length:
a body under the 3 MiB limit made of one long list takes it minutes
(docs/reliability.md has the figures). The API server gives up after the
webhook's ``timeoutSeconds`` and applies its own ``failurePolicy``, so the
webhook answers first: evaluation runs on a small pool, the request waits
at most ``seconds``, and past that the failure mode decides, with a message
that says why.

A running evaluation cannot be interrupted; it finishes on its pool thread.
The pool is bounded, so at most ``threads`` of them run at once and the
requests behind them still get their answer by the deadline.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from meshc.policies.engine import PolicyEngine, Review
from meshc.webhook.decision import FailureMode, Verdict, engine_failure, judge

DEFAULT_SECONDS = 4.0  # the chart's timeoutSeconds is 5

Job = tuple["Future[Verdict]", Review]


class BoundedJudge:
    def __init__(
        self, engine: PolicyEngine, failure_mode: FailureMode, seconds: float, threads: int
    ):
        self.engine = engine
        self.failure_mode = failure_mode
        self.seconds = seconds
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._threads = threads
        self._started = False
        self._lock = threading.Lock()

    def _start(self) -> None:
        # Started on first use: the supervisor builds a State to check the
        # configuration and never judges with it. Daemon threads, unlike a
        # ThreadPoolExecutor's: a worker told to stop must not wait minutes
        # at exit for an evaluation whose answer was already given.
        with self._lock:
            if self._started:
                return
            for i in range(self._threads):
                threading.Thread(target=self._run, name=f"meshc-judge-{i}", daemon=True).start()
            self._started = True

    def _run(self) -> None:
        while True:
            future, review = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue  # its request was already answered
            try:
                future.set_result(judge(self.engine, review, self.failure_mode))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting request, which fails closed
                future.set_exception(exc)

    def __call__(self, review: Review) -> Verdict:
        if not self._started:
            self._start()
        future: Future[Verdict] = Future()
        self._jobs.put((future, review))
        try:
            return future.result(timeout=self.seconds)
        except FutureTimeout:
            future.cancel()  # still queued behind slow ones: never run it
            return engine_failure(
                f"no decision within {self.seconds:g}s (--decision-timeout)", self.failure_mode
            )
