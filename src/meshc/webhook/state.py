"""What a worker answers with: the spec, the policy data, the compiled engine.

Nothing here is rebuilt per request. Under ``meshc webhook serve`` a worker
loads the supervisor's snapshot of the spec (the last version it validated),
never the file an operator may be editing: a worker started after a bad edit
still comes up with the last good configuration. When the snapshot changes,
the worker builds a new State from it and swaps it in whole (:class:`LiveState`,
webhook/reload.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from meshc.policies.engine import BoundedEngine, PolicyEngine, Review
from meshc.policies.mutation import NamespaceMutation, pod_markers_of
from meshc.providers import PodMarkers
from meshc.webhook.deadline import DEFAULT_SECONDS, BoundedJudge, InlineJudge
from meshc.webhook.decision import FailureMode, Verdict
from meshc.webhook.metrics import Metrics
from meshc.webhook.settings import DEFAULT_MAX_BODY, Settings


@dataclass
class State:
    engine: PolicyEngine | None
    # What /mutate adds to each meshed Namespace.
    mutation: NamespaceMutation = field(default_factory=NamespaceMutation)
    # What /mutate adds to new Pods (Profile.pod_markers), for meshes that need it.
    pod_markers: tuple[PodMarkers, ...] = ()
    failure_mode: FailureMode = "closed"
    max_body: int = DEFAULT_MAX_BODY
    metrics: Metrics = field(default_factory=Metrics)
    decision_timeout: float = DEFAULT_SECONDS
    judge_threads: int = 4
    status_file: str = ""  # written by the supervisor when a spec reload fails
    # Warnings every answer carries: set when only some policies are evaluated.
    notices: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return self.engine is not None

    @cached_property
    def _bounded(self) -> BoundedJudge | InlineJudge:
        assert self.engine is not None
        if isinstance(self.engine, BoundedEngine):
            return InlineJudge(self.engine, self.failure_mode, self.decision_timeout)
        return BoundedJudge(
            self.engine, self.failure_mode, self.decision_timeout, self.judge_threads
        )

    def judge(self, review: Review) -> Verdict:
        """The verdict within ``decision_timeout`` seconds, whatever the engine does."""
        verdict = self._bounded(review)
        return replace(verdict, notices=self.notices) if self.notices else verdict

    def config_status(self) -> dict[str, Any]:
        """What the supervisor last said about the spec on disk ({} when all is well)."""
        if not self.status_file:
            return {}
        try:
            status: dict[str, Any] = json.loads(Path(self.status_file).read_text())
        except (OSError, ValueError):
            return {}
        return status

    def closer(self) -> Callable[[], None]:
        """What ends this state's judge threads and engine, without keeping the state alive.

        For a state swapped out by a spec reload, once no request uses it.
        An engine is closed if it has a ``close()``.
        """
        judge = self.__dict__.get("_bounded")  # built on the first judged review, if any
        engine = self.engine

        def close() -> None:
            if isinstance(judge, BoundedJudge):
                judge.close()
            closing = getattr(engine, "close", None)
            if callable(closing):
                closing()

        return close


class LiveState:
    """The State a worker answers with now, replaced whole when the spec is reloaded.

    A request reads ``current`` once and answers with that state to the end:
    a request in flight during a swap finishes with the state it began with,
    and every request after it gets the new one. The swap is one assignment.
    """

    __slots__ = ("current",)

    def __init__(self, state: State):
        self.current = state

    def swap(self, state: State) -> State:
        """Put ``state`` in place; the one it replaces."""
        old, self.current = self.current, state
        return old


def load_state(settings: Settings, text: str | None = None) -> State:
    """Load and compile everything a worker needs; raises SpecError on a bad spec.

    ``text`` is the spec's content when the caller has read it already.
    """
    # Imported here: the spec model and engines are heavy, and `meshc check`
    # imports this package's pure modules without them.
    from meshc.compiler.loader import load_mesh
    from meshc.policies.data import only_policies, policy_data
    from meshc.policies.engine import ENGINES, create_engine

    if text is None and settings.spec_snapshot:
        text = Path(settings.spec_snapshot).read_text(encoding="utf-8")
    # Named after the operator's file, so messages cite it and not the copy.
    mesh = load_mesh(settings.spec, text=text)
    data: dict[str, Any] = only_policies(policy_data(mesh), settings.only_policies)
    engine = create_engine(
        settings.engine,
        data,
        opa_url=settings.opa_url,
        timeout=settings.opa_timeout,
        publish=settings.opa_publish,
    )
    return State(
        engine=engine,
        mutation=NamespaceMutation.of(mesh),
        pod_markers=pod_markers_of(mesh),
        failure_mode=settings.failure_mode,
        max_body=settings.max_body,
        decision_timeout=settings.decision_timeout,
        judge_threads=ENGINES[settings.engine].judge_threads,
        status_file=settings.status_file,
        notices=filter_notices(data),
    )


def filter_notices(data: dict[str, Any]) -> tuple[str, ...]:
    """The warning of a webhook that evaluates only some policies; none when it evaluates all.

    On every answer, allow or deny, so a filter left on where it should not
    be is seen by whoever applies anything, not only in the webhook's log.
    """
    only = data.get("only")
    if not only:
        return ()
    notice = (
        f"[meshc:policy-filter] this webhook evaluates only {', '.join(only)} "
        "(meshc webhook serve --policy); the spec's other policies are not enforced"
    )
    return (notice,)
