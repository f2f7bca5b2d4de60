"""A time limit on every decision, so the API server always gets an answer in time.

rego-cpp's input parser grows with the square of a list's or map's length:
a body under the 3 MiB limit made of one long list takes it minutes
(docs/reliability.md has the figures). The API server gives up after the
webhook's ``timeoutSeconds`` and applies its own ``failurePolicy``, so the
webhook answers first: past ``seconds`` the failure mode decides, with a
message that says why.

An engine that can stop its own evaluation (the wasm engine:
``BoundedEngine``) is asked to, on the request's thread (:class:`InlineJudge`).
For the others (:class:`BoundedJudge`) evaluation runs on a judge thread and
the request waits at most ``seconds``. Such an evaluation cannot be
interrupted; it finishes on its judge thread.
There are at most ``threads`` of them, so at most that many evaluations run
at once and the requests behind them still get their answer by the deadline.

The hand-off is the one thread switch each way a deadline needs, and no
more: a request goes straight to an idle thread (the one used last, whose
engine state is warm) through a lock of its own. A shared queue and a
``Future`` (condition variables, a lock allocated per wait) cost 31 µs of
CPU a request against 19 µs, and spread the work over every thread in turn.
"""

from __future__ import annotations

import threading
from collections import deque

from meshc.policies.engine import (
    BoundedEngine,
    DeadlineExceeded,
    EngineError,
    PolicyEngine,
    Review,
)
from meshc.policies.violations import Violation
from meshc.webhook.decision import FailureMode, Verdict, engine_failure, judge

DEFAULT_SECONDS = 4.0  # the chart's timeoutSeconds is 5


def too_late(seconds: float) -> str:
    return f"no decision within {seconds:g}s (--decision-timeout)"


class InlineJudge:
    """For an engine that stops an evaluation itself at the deadline: no thread to hand over to.

    The wasm engine is stopped by wasmtime's epoch interruption, so the
    request's own thread evaluates, and saves the two thread switches a
    judge thread costs (about a sixth of the server's CPU per admission).
    """

    def __init__(self, engine: BoundedEngine, failure_mode: FailureMode, seconds: float):
        self.engine = _Within(engine, seconds)
        self.failure_mode = failure_mode
        self.seconds = seconds

    def __call__(self, review: Review) -> Verdict:
        return judge(self.engine, review, self.failure_mode)


class _Within:
    """``engine`` as a PolicyEngine whose every evaluation has the deadline."""

    def __init__(self, engine: BoundedEngine, seconds: float):
        self._engine = engine
        self._seconds = seconds

    def evaluate(self, review: Review) -> list[Violation]:
        try:
            found: list[Violation] = self._engine.evaluate_within(review, self._seconds)
        except DeadlineExceeded as exc:
            raise EngineError(too_late(self._seconds)) from exc
        return found


class _Job:
    __slots__ = ("done", "error", "review", "verdict")

    def __init__(self, review: Review):
        self.review: Review | None = review
        # Held until a judge thread has the answer: the request waits on it.
        self.done = threading.Lock()
        self.done.acquire()
        self.verdict: Verdict | None = None
        self.error: BaseException | None = None


class _Judge:
    """One judge thread's mailbox: the job it is given, and the lock it sleeps on."""

    __slots__ = ("job", "ready")

    def __init__(self) -> None:
        self.job: _Job | None = None
        self.ready = threading.Lock()
        self.ready.acquire()

    def give(self, job: _Job | None) -> None:
        """Hand over ``job``; None ends the thread."""
        self.job = job
        self.ready.release()

    def take(self) -> _Job | None:
        self.ready.acquire()
        job = self.job
        self.job = None
        return job


class BoundedJudge:
    def __init__(
        self, engine: PolicyEngine, failure_mode: FailureMode, seconds: float, threads: int
    ):
        self.engine = engine
        self.failure_mode = failure_mode
        self.seconds = seconds
        self._threads = threads
        self._lock = threading.Lock()
        self._idle: list[_Judge] = []  # a stack: the thread used last goes first
        self._backlog: deque[_Job] = deque()  # waiting while every thread is busy
        self._started = 0
        self._closed = False

    def __call__(self, review: Review) -> Verdict:
        job = _Job(review)
        judge_: _Judge | None = None
        spawn = 0  # the number of the thread to start, if one is needed
        with self._lock:
            if self._idle:
                judge_ = self._idle.pop()
            elif self._started < self._threads:
                # Threads start on demand: the supervisor builds a State to
                # check the configuration and never judges with it, and an
                # engine that never hangs needs only one.
                self._started += 1
                spawn = self._started  # numbered from 1
            else:
                self._backlog.append(job)
        if spawn:
            judge_ = self._spawn(spawn)
        if judge_ is not None:
            judge_.give(job)
        if job.done.acquire(timeout=self.seconds):
            if job.error is not None:
                raise job.error
            assert job.verdict is not None
            return job.verdict
        # Not started yet (behind slow ones): never run it. Running: its
        # answer comes too late and is dropped.
        job.review = None
        return engine_failure(too_late(self.seconds), self.failure_mode)

    def _spawn(self, number: int) -> _Judge:
        judge_ = _Judge()
        # Daemon threads, unlike a ThreadPoolExecutor's: a worker told to stop
        # must not wait minutes at exit for an evaluation whose answer was
        # already given.
        threading.Thread(
            target=self._run, args=(judge_,), name=f"meshc-judge-{number}", daemon=True
        ).start()
        return judge_

    def close(self) -> None:
        """End the judge threads: idle ones now, busy ones once their evaluation returns.

        For a judge whose state a spec reload replaced. A review still sent
        to it is judged all the same, by a thread that then ends.
        """
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            self._started -= len(idle)
        for judge_ in idle:
            judge_.give(None)

    def _run(self, judge_: _Judge) -> None:
        job = judge_.take()
        while job is not None:
            self._judge(job)
            # Back on the idle stack before the request wakes, so the request
            # after it finds this thread at once instead of contending for the lock.
            with self._lock:
                following: _Job | None = self._backlog.popleft() if self._backlog else None
                ending = following is None and self._closed
                if ending:
                    self._started -= 1
                elif following is None:
                    self._idle.append(judge_)
            job.done.release()
            if ending:
                return
            job = following if following is not None else judge_.take()

    def _judge(self, job: _Job) -> None:
        # Taken off the job: its request may be long gone (timed out), and
        # the review, up to 3 MiB of JSON decoded, need not outlive this call.
        review, job.review = job.review, None
        if review is None:
            return  # its request has had its answer already
        try:
            job.verdict = judge(self.engine, review, self.failure_mode)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting request, which fails closed
            job.error = exc
