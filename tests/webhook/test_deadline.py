"""The decision deadline: every review is answered in time, whatever the engine does.

Timing is what these tests measure, so some assert how long a review took;
each bound tells the deadline (0.3 s here) from what would happen without it
(a hang of 30 s), with room for a busy machine between the two.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from meshc.policies.engine import BoundedEngine, DeadlineExceeded, EngineError
from meshc.policies.violations import Violation
from meshc.webhook.deadline import BoundedJudge, InlineJudge

NO_DECISION = "no decision within 0.3s (--decision-timeout)"
# At the deadline, not at the end of a hang (30 s).
AT_THE_DEADLINE = 5.0


class Engine:
    """Answers at once, except for reviews named ``hang`` (until released) or ``fail``."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: list[str] = []
        self.threads: set[str] = set()

    def evaluate(self, review: Any) -> list[Violation]:
        self.started.append(review["name"])
        self.threads.add(threading.current_thread().name)
        if review["name"].startswith("hang"):
            self.release.wait(30)
        if review["name"] == "fail":
            raise KeyError("broken engine")
        if review["name"] == "exit":
            raise SystemExit(3)
        return []


@pytest.fixture
def engine() -> Any:
    e = Engine()
    yield e
    e.release.set()


def wait(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def timed(judge: BoundedJudge, name: str) -> tuple[Any, float]:
    started = time.monotonic()
    verdict = judge({"name": name})
    return verdict, time.monotonic() - started


def test_an_answer_comes_from_the_engine_when_it_answers_in_time(engine: Engine) -> None:
    judge = BoundedJudge(engine, "closed", 0.3, threads=2)
    for _ in range(50):
        verdict, _ = timed(judge, "ok")
        assert verdict.allowed and not verdict.engine_error
    # One thread does all the work while none hangs: its engine state stays warm.
    assert len(engine.threads) == 1


def test_a_hanging_engine_fails_closed_at_the_deadline_and_others_are_still_judged(
    engine: Engine,
) -> None:
    judge = BoundedJudge(engine, "closed", 0.3, threads=2)
    verdict, elapsed = timed(judge, "hang-1")
    assert not verdict.allowed and NO_DECISION in verdict.message
    assert 0.3 <= elapsed < AT_THE_DEADLINE
    # The stuck thread keeps its evaluation; the next review gets another
    # thread: allowed means it was answered within the deadline.
    verdict, _ = timed(judge, "ok")
    assert verdict.allowed and not verdict.engine_error


def test_failing_open_at_the_deadline_allows_with_the_reason(engine: Engine) -> None:
    verdict, _ = timed(BoundedJudge(engine, "open", 0.3, threads=1), "hang")
    assert verdict.allowed and NO_DECISION in verdict.warnings[0]


def test_with_every_thread_stuck_reviews_wait_their_deadline_and_are_never_run_late(
    engine: Engine,
) -> None:
    judge = BoundedJudge(engine, "closed", 0.3, threads=2)
    for name in ("hang-1", "hang-2"):
        assert not timed(judge, name)[0].allowed
    verdict, elapsed = timed(judge, "queued")  # no thread free: waits in the backlog
    assert not verdict.allowed and NO_DECISION in verdict.message
    assert 0.3 <= elapsed < AT_THE_DEADLINE
    engine.release.set()  # the stuck threads come back ...
    wait(lambda: len(judge._idle) == 2)
    verdict, _ = timed(judge, "after")
    assert verdict.allowed
    # ... and skip the review whose request was answered already.
    assert "queued" not in engine.started


def test_a_review_waiting_for_a_thread_gets_the_first_one_free(engine: Engine) -> None:
    judge = BoundedJudge(engine, "closed", 30.0, threads=1)
    hung = threading.Thread(target=judge, args=({"name": "hang"},))
    hung.start()
    wait(lambda: engine.started == ["hang"])  # the one thread is taken
    threading.Timer(0.2, engine.release.set).start()
    verdict, elapsed = timed(judge, "queued")
    hung.join()
    # Answered once the thread was free, not at the deadline: allowed.
    assert verdict.allowed and elapsed >= 0.15


def test_an_engine_error_is_a_verdict_and_anything_worse_reaches_the_request(
    engine: Engine,
) -> None:
    judge = BoundedJudge(engine, "closed", 1.0, threads=1)
    verdict, _ = timed(judge, "fail")
    assert not verdict.allowed and "broken engine" in verdict.message
    with pytest.raises(SystemExit):
        judge({"name": "exit"})
    assert timed(judge, "ok")[0].allowed  # the thread survived both


def test_no_thread_starts_before_the_first_review(engine: Engine) -> None:
    before = set(threading.enumerate())
    judge = BoundedJudge(engine, "closed", 1.0, threads=4)
    assert set(threading.enumerate()) - before == set()
    timed(judge, "ok")
    assert [t.name for t in set(threading.enumerate()) - before] == ["meshc-judge-1"]


# --- an engine that stops itself -----------------------------------------------------------


class StoppingEngine:
    """A BoundedEngine: stops ``slow`` reviews at the deadline it is given, fails ``fail``."""

    def __init__(self) -> None:
        self.deadlines: list[float] = []
        self.threads: set[str] = set()

    def evaluate(self, review: Any) -> list[Violation]:
        raise AssertionError("a bounded engine is asked with its deadline")

    def evaluate_within(self, review: Any, seconds: float) -> list[Violation]:
        self.deadlines.append(seconds)
        self.threads.add(threading.current_thread().name)
        if review["name"] == "slow":
            raise DeadlineExceeded("stopped")
        if review["name"] == "fail":
            raise EngineError("broken module")
        return []


def test_a_bounded_engine_is_judged_inline_and_stopped_at_the_deadline() -> None:
    engine = StoppingEngine()
    assert isinstance(engine, BoundedEngine)
    judge = InlineJudge(engine, "closed", 0.3)
    verdict = judge({"name": "ok"})
    assert verdict.allowed and not verdict.engine_error
    stopped = judge({"name": "slow"})
    assert not stopped.allowed and stopped.engine_error == NO_DECISION
    failed = judge({"name": "fail"})
    assert not failed.allowed and failed.engine_error == "broken module"
    assert engine.deadlines == [0.3, 0.3, 0.3]
    assert engine.threads == {threading.current_thread().name}


def test_a_bounded_engine_stopped_under_fail_open_is_allowed_with_the_reason() -> None:
    verdict = InlineJudge(StoppingEngine(), "open", 0.3)({"name": "slow"})
    assert verdict.allowed and verdict.engine_error == NO_DECISION


def test_the_wasm_engine_is_judged_inline_and_the_embedded_engine_on_judge_threads() -> None:
    from meshc.compiler.loader import load_mesh
    from meshc.policies.data import policy_data
    from meshc.policies.engine import create_engine
    from meshc.webhook.state import State
    from support.paths import REPO

    data = policy_data(load_mesh(str(REPO / "examples" / "quickstart" / "mesh.yaml")))
    assert isinstance(State(engine=create_engine("wasm", data))._bounded, InlineJudge)
    assert isinstance(State(engine=create_engine("embedded", data))._bounded, BoundedJudge)
