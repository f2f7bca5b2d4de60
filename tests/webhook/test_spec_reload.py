"""Spec reload inside each worker: a new state swapped in, no worker replaced, nothing dropped.

The supervisor validates a changed spec and snapshots it (webhook/reload.py,
SpecReload); each worker follows the snapshot and swaps its State
(SnapshotFollower, LiveState). First the parts, in-process; then a real
server with two workers.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import weakref
from pathlib import Path
from typing import Any

import pytest
import requests

from meshc.atomicfile import write_atomic
from meshc.policies.violations import Violation
from meshc.webhook import reload as reload_module
from meshc.webhook import state as state_module
from meshc.webhook.app import create_app
from meshc.webhook.deadline import BoundedJudge
from meshc.webhook.reload import SnapshotFollower
from meshc.webhook.settings import Settings
from meshc.webhook.state import LiveState, State
from support.api_server import review, workload
from support.webhook_server import Certs, WebhookServer, wait_until

SPEC = """apiVersion: meshc.io/v1alpha1
kind: Mesh
metadata: {{name: reload}}
spec:
  provider: istio
  namespaces:
{namespaces}
"""


def spec_text(*namespaces: str, extra: str = "") -> str:
    return SPEC.format(namespaces="".join(f"    - name: {n}\n" for n in namespaces)) + extra


def write_spec(path: Path, *namespaces: str, extra: str = "") -> None:
    write_atomic(path, spec_text(*namespaces, extra=extra).encode())


def host_network_pod(namespace: str) -> dict[str, Any]:
    """Denied in a meshed namespace (it bypasses the sidecar), allowed elsewhere."""
    obj = workload("Pod", namespace=namespace)
    obj["spec"]["hostNetwork"] = True
    return review(obj)


# -- the parts --------------------------------------------------------------------------------


class Gate:
    """An engine that finds ``answer`` once let through; says when a review has reached it."""

    def __init__(self, answer: list[Violation]):
        self.answer = answer
        self.reached = threading.Event()
        self.through = threading.Event()

    def evaluate(self, review: Any) -> list[Violation]:
        self.reached.set()
        assert self.through.wait(60)
        return list(self.answer)


def denial() -> Violation:
    return Violation(
        policy="injection-required",
        kind="Pod",
        namespace="mesh-demo",
        name="web",
        path="spec.hostNetwork",
        problem="the pod shares the node's network: true",
        fix="remove hostNetwork",
        mode="enforce",
    )


def test_a_request_in_flight_finishes_with_the_state_it_began_with() -> None:
    old_engine, new_engine = Gate([denial()]), Gate([])
    new_engine.through.set()
    live = LiveState(State(engine=old_engine))
    client = create_app(live).test_client()
    answers: list[bool] = []

    def call() -> None:
        r = client.post("/validate", json=review(workload("Pod")))
        answers.append(r.get_json()["response"]["allowed"])

    in_flight = threading.Thread(target=call)
    in_flight.start()
    assert old_engine.reached.wait(30)
    old = live.swap(State(engine=new_engine))  # while that review is with the old engine
    call()  # a new request gets the new state at once
    old_engine.through.set()
    in_flight.join(30)
    assert answers == [True, False]  # the new state's allow, then the old state's denial
    assert old.engine is old_engine and live.current.engine is new_engine


@pytest.fixture
def snapshot(tmp_path: Path) -> Settings:
    """Settings as `meshc webhook serve` gives a worker, with a snapshot meshing mesh-demo."""
    path = tmp_path / "snapshot" / "mesh.yaml"
    path.parent.mkdir()
    write_spec(path, "mesh-demo")
    return Settings(spec=str(tmp_path / "mesh.yaml"), engine="embedded", spec_snapshot=str(path))


def test_a_new_snapshot_is_swapped_in_and_the_old_state_released(snapshot: Settings) -> None:
    retired = threading.Event()
    follower = SnapshotFollower(snapshot, on_retired=retired.set)
    live = follower.first()
    first = live.current
    assert first.mutation.meshed == {"mesh-demo"}
    assert follower.check() is False  # nothing changed
    first.judge(host_network_pod("mesh-demo"))  # its judge thread started
    judge = first.__dict__["_bounded"]
    assert isinstance(judge, BoundedJudge)
    released = weakref.ref(first)
    del first

    write_spec(Path(snapshot.spec_snapshot), "mesh-demo", "team-b")
    assert follower.check() is True
    assert live.current.mutation.meshed == {"mesh-demo", "team-b"}
    assert retired.is_set() and released() is None
    assert judge._started == 0  # its threads ended
    assert not live.current.judge(host_network_pod("team-b")).allowed

    # The same content written again (a new file): nothing to load.
    write_spec(Path(snapshot.spec_snapshot), "mesh-demo", "team-b")
    current = live.current
    assert follower.check() is False and live.current is current
    assert follower.swaps == 1


def test_the_worker_keeps_its_metrics_across_a_swap(snapshot: Settings) -> None:
    follower = SnapshotFollower(snapshot)
    live = follower.first()
    metrics = live.current.metrics
    write_spec(Path(snapshot.spec_snapshot), "team-b")
    assert follower.check() is True
    assert live.current.metrics is metrics


def test_a_swap_waits_until_no_request_holds_the_old_state(snapshot: Settings) -> None:
    retired = threading.Event()
    follower = SnapshotFollower(snapshot, on_retired=retired.set)
    live = follower.first()
    held = live.current  # as a request in flight holds it
    write_spec(Path(snapshot.spec_snapshot), "team-b")
    swapping = threading.Thread(target=follower.check)
    swapping.start()
    wait_until(lambda: follower.swaps == 1, 30, "the new state in place")
    # Not closed under the request: it cannot be, while the request holds it.
    assert not retired.wait(1.0)
    del held
    assert retired.wait(30)
    swapping.join(30)


def test_a_worker_that_cannot_load_the_snapshot_keeps_its_state_and_tries_again(
    snapshot: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    follower = SnapshotFollower(snapshot)
    live = follower.first()
    current = live.current

    def broken(*args: Any, **kwargs: Any) -> State:
        raise OSError("no memory for it")

    monkeypatch.setattr(state_module, "load_state", broken)
    write_spec(Path(snapshot.spec_snapshot), "team-b")
    assert follower.check() is False and live.current is current
    monkeypatch.undo()
    assert follower.check() is False  # not again at once: every poll would load it
    del current  # or the swap below would wait for this test to let go of it
    monkeypatch.setattr(reload_module, "RETRY_SECONDS", 0.0)
    assert follower.check() is True and live.current.mutation.meshed == {"team-b"}


# -- a real server ----------------------------------------------------------------------------


def decision(server: WebhookServer, namespace: str = "team-b") -> bool:
    """Whether a new connection's review of a host-network pod in ``namespace`` is allowed."""
    with requests.Session() as fresh:
        r = fresh.post(
            f"{server.url}/validate",
            json=host_network_pod(namespace),
            verify=str(server.certs.ca),
            timeout=30,
        )
    assert r.status_code == 200, r.text
    allowed: bool = r.json()["response"]["allowed"]
    return allowed


def every_worker_says(server: WebhookServer, allowed: bool, times: int = 12) -> bool:
    """``times`` reviews in a row, each on a new connection (so to either worker), all ``allowed``."""
    return all(decision(server) is allowed for _ in range(times))


class TestSpecReload:
    def test_an_edit_changes_decisions_and_a_bad_one_keeps_them_with_no_new_worker(  # type: ignore[no-untyped-def]
        self, tmp_path: Path, start_server, certs: Certs
    ) -> None:
        spec = tmp_path / "mesh.yaml"
        write_spec(spec, "mesh-demo")
        server: WebhookServer = start_server(spec, certs)
        workers = server.worker_pids()
        assert len(workers) == 2
        assert every_worker_says(server, True)  # team-b is not meshed

        write_spec(spec, "mesh-demo", "team-b")
        wait_until(lambda: every_worker_says(server, False), 90, "team-b meshed by every worker")
        assert server.worker_pids() == workers

        write_spec(spec, "mesh-demo", extra="  mtls: SOMETIMES\n")
        wait_until(lambda: server.get("/readyz").json().get("spec_errors"), 90, "the failure shown")
        ready = server.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["config"] == "the last good spec: the spec on disk does not load"
        assert any("spec.mtls" in line for line in ready.json()["spec_errors"])
        assert every_worker_says(server, False)  # still the last good spec
        assert server.worker_pids() == workers

        write_spec(spec, "mesh-demo")
        wait_until(lambda: every_worker_says(server, True), 90, "team-b unmeshed by every worker")
        assert server.get("/readyz").json() == {"status": "ready"}
        assert server.worker_pids() == workers
        assert "Reloading" not in server.output()  # no new generation either

    def test_reviews_sent_during_reloads_are_all_answered(  # type: ignore[no-untyped-def]
        self, tmp_path: Path, start_server, certs: Certs
    ) -> None:
        spec = tmp_path / "mesh.yaml"
        write_spec(spec, "mesh-demo")
        server: WebhookServer = start_server(spec, certs)
        workers = server.worker_pids()
        load = Load(server, certs.ca)
        try:
            for edit in range(4):
                meshed = edit % 2 == 0
                write_spec(spec, "mesh-demo", *(["team-b"] if meshed else []))
                wait_until(
                    lambda m=meshed: every_worker_says(server, not m),  # type: ignore[misc]
                    90,
                    f"edit {edit} in every worker",
                )
        finally:
            load.stop()
        assert load.failures == [], f"{len(load.failures)} failed: {load.failures[:10]}"
        # Both decisions were given to both kinds of client: they were there throughout.
        for kind in ("new", "keep-alive"):
            assert load.answered[kind, True] and load.answered[kind, False], load.answered
        assert server.worker_pids() == workers


class Load:
    """Reviews of a host-network pod in team-b, without pause, on new and kept-alive connections."""

    def __init__(self, server: WebhookServer, ca: Path, new: int = 2, keep_alive: int = 2):
        self.port, self.ca = server.port, ca
        self.body = json.dumps(host_network_pod("team-b"))
        self.answered: dict[tuple[str, bool], int] = {
            (kind, allowed): 0 for kind in ("new", "keep-alive") for allowed in (True, False)
        }
        self.failures: list[str] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._new) for _ in range(new)]
        self.threads += [threading.Thread(target=self._keep_alive) for _ in range(keep_alive)]
        for t in self.threads:
            t.start()

    def _new(self) -> None:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        while not self.stopping.is_set():
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=30)
            try:
                conn.request("POST", "/validate", self.body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                self._check("new", r.status, r.read())
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(f"new connection: {exc!r}")
            finally:
                conn.close()

    def _keep_alive(self) -> None:
        with requests.Session() as session:
            while not self.stopping.is_set():
                try:
                    r = session.post(
                        f"https://127.0.0.1:{self.port}/validate",
                        data=self.body,
                        headers={"Content-Type": "application/json"},
                        verify=str(self.ca),
                        timeout=30,
                    )
                except requests.RequestException as exc:
                    self.failures.append(f"keep-alive: {exc!r}")
                    continue
                self._check("keep-alive", r.status_code, r.content)

    def _check(self, kind: str, status: int, answer: bytes) -> None:
        try:
            allowed = json.loads(answer)["response"]["allowed"]
        except (ValueError, KeyError, TypeError):
            allowed = None
        if status != 200 or not isinstance(allowed, bool):
            self.failures.append(f"{kind}: HTTP {status}: {answer[:200]!r}")
        else:
            self.answered[kind, allowed] += 1

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(60)


def test_a_closed_judge_ends_its_threads_and_still_answers() -> None:
    class Engine:
        def __init__(self) -> None:
            self.release = threading.Event()

        def evaluate(self, review: Any) -> list[Violation]:
            if review == "hang":
                self.release.wait(60)
            return []

    engine = Engine()
    before = set(threading.enumerate())
    judge = BoundedJudge(engine, "closed", 30.0, threads=2)
    assert judge("ok").allowed  # one idle thread now
    hung = threading.Thread(target=judge, args=("hang",))
    hung.start()  # the idle one takes it; judges hang

    def judges() -> set[threading.Thread]:
        """This judge's threads (other tests' may still be about)."""
        return {t for t in set(threading.enumerate()) - before if t.name.startswith("meshc-judge-")}

    wait_until(lambda: judge._started == 1 and not judge._idle, 30, "the hang taken")
    judge.close()
    assert judges()  # the busy thread goes on until its evaluation returns
    engine.release.set()
    hung.join(30)
    wait_until(lambda: not judges(), 30, "every judge thread ended")
    assert judge("after").allowed  # a straggler is still judged, by a thread that then ends
    wait_until(lambda: not judges(), 30, "that thread ended too")
    assert judge._started == 0
