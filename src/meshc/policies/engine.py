"""The policy engine interface, the frame every engine is built on, its registry, and the decision.

The webhook and ``meshc check`` only ever see :class:`PolicyEngine`; which
engine evaluates the Rego (OPA's Wasm in wasmtime, rego-cpp in-process, or an
OPA server) is configuration, looked up by name in :data:`ENGINES`. Every
engine is an :class:`EngineFrame`: the frame prepares the input
(:func:`policy_input`), asks the engine for its raw answer, turns that into
violations (:func:`to_violations`) and any failure into :class:`EngineError`.
Every caller sorts violations into allow, deny, warn and audit with
:func:`decide`.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol, runtime_checkable

from . import json_text
from .modules import ENTRYPOINT
from .projection import project
from .violations import Mode, Violation

Review = Mapping[str, Any] | str | bytes


class EngineError(Exception):
    """No policy decision could be made (engine unreachable, bad answer, Rego error)."""


class DeadlineExceeded(EngineError):
    """The evaluation was stopped at its deadline (``evaluate_within``)."""


class PolicyEngine(Protocol):
    def evaluate(self, review: Review) -> list[Violation]:
        """Every violation of an AdmissionReview, sorted.

        ``review`` is the AdmissionReview as a dict, or its JSON text. Either
        way the engine evaluates :func:`policy_input` of it. Raises
        :class:`EngineError` when no decision can be made.
        """
        ...


@runtime_checkable
class BoundedEngine(PolicyEngine, Protocol):
    """An engine that can stop an evaluation itself, and so needs no thread to wait on it."""

    def evaluate_within(self, review: Review, seconds: float) -> list[Violation]:
        """:meth:`evaluate`, stopped with :class:`DeadlineExceeded` after ``seconds``."""
        ...


def policy_input(review: Review) -> Any:
    """What every engine evaluates: the review, decoded if it is text, then projected.

    The one place input is prepared, so rego-cpp and OPA always judge the
    same document. Pass the decoded dict when there is one: text is decoded
    here again, only to be projected and encoded anew.
    """
    if isinstance(review, (str, bytes)):
        try:
            review = json.loads(review)
        except ValueError as exc:  # json.JSONDecodeError, UnicodeDecodeError
            raise EngineError(f"the AdmissionReview is not JSON: {exc}") from exc
    return json_text.like(review, project(review))


def input_text(document: Any) -> str:
    """A :func:`policy_input` document as compact JSON text, for rego-cpp's parser."""
    try:
        # allow_nan=False: NaN and Infinity are not JSON, and OPA would refuse them.
        return json.dumps(document, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise EngineError(f"the AdmissionReview is not JSON: {exc}") from exc


# What an engine's raw() answers when the entry point has no value: a broken
# bundle, module or server, since the policies always define it.
UNDEFINED: Final = object()


class EngineFrame(ABC):
    """The steps every engine shares; an engine supplies :meth:`raw`, the one step that differs.

    :meth:`evaluate` prepares the input with :func:`policy_input`, asks
    :meth:`raw` for the entry point's value, and turns it into violations
    with :func:`to_violations`, each with its policy's mode as ``data``
    gives it. Whatever fails along the way is an :class:`EngineError`, so a
    caller handles one exception whatever the engine.
    """

    # What "now" is when an exception's expiry is checked (seconds since the epoch).
    clock: Callable[[], float] = staticmethod(time.time)

    def __init__(self, data: Mapping[str, Any]):
        # Each policy's mode (spec.admission.policies); a policy not named is enforced.
        self.modes: dict[str, str] = dict(data.get("modes", {}))
        # spec.admission.exceptions by name: the Rego marks the violations they match.
        self.exceptions: dict[str, Mapping[str, Any]] = {
            str(e["name"]): e for e in data.get("exceptions", [])
        }

    def evaluate(self, review: Review) -> list[Violation]:
        document = policy_input(review)
        found = self._violations(document)
        before = subresource_baseline(document)
        if found and before is not None:
            already = {_identity(v) for v in self._violations(before)}
            found = [v for v in found if _identity(v) not in already]
        return found

    def _violations(self, document: Any) -> list[Violation]:
        try:
            answer = self.raw(document)
        except EngineError:
            raise
        except Exception as exc:  # whatever failed, no decision was made
            raise EngineError(f"{self.failure}: {_first_line(exc)}") from exc
        if answer is UNDEFINED:
            raise EngineError(self.undefined)
        return to_violations(answer, self.modes, self.exceptions, self.clock())

    @abstractmethod
    def raw(self, document: Any) -> Any:
        """The value of :data:`~meshc.policies.modules.ENTRYPOINT` for ``document``, as decoded JSON.

        ``document`` is a :func:`policy_input`. Answer :data:`UNDEFINED` when
        the entry point has no value. Anything raised becomes an
        :class:`EngineError` saying :attr:`failure` (an EngineError is raised
        as it is).
        """

    @property
    def failure(self) -> str:
        """What an evaluation that raised is reported as, before the reason."""
        return "policy evaluation failed"

    @property
    def undefined(self) -> str:
        """What an evaluation that answered :data:`UNDEFINED` is reported as."""
        return f"the policies gave no answer for {ENTRYPOINT}"


def subresource_baseline(document: Any) -> Any:
    """For an UPDATE through a subresource, the review of the object as it was; else None.

    Such an update (a pod's status, its ephemeral containers, a namespace's
    status or finalizers) is judged on what it changes: a violation the
    object already had does not block it, or the kubelet could not report
    the status of a pod that predates the mesh and a namespace could not
    finish its deletion. What the update adds is judged like a write of the
    resource itself. Done here, for every engine alike: rego-cpp evaluates
    Rego's `with input... as` wrongly once a rule has a value.
    """
    request = document.get("request") if isinstance(document, dict) else None
    if not isinstance(request, dict) or request.get("operation") != "UPDATE":
        return None
    old = request.get("oldObject")
    if not request.get("subResource") or not isinstance(old, dict):
        return None
    return json_text.like(document, {**document, "request": {**request, "object": old}})


def _identity(v: Violation) -> tuple[str, str, str]:
    return (v.policy, v.path, v.problem)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def to_violations(
    raw: Any,
    modes: Mapping[str, str],
    exceptions: Mapping[str, Mapping[str, Any]] | None = None,
    now: float | None = None,
) -> list[Violation]:
    """Violations from the engines' raw answer (a JSON array of objects), sorted.

    A violation the Rego marked with exceptions (``exceptions``: their names) that one
    of them still covers at ``now`` is admitted: mode audit, naming the exception.
    """
    if not isinstance(raw, list):
        raise EngineError(
            f"the policies answered {type(raw).__name__}, expected a list of violations"
        )
    try:
        found = {_violation(item, modes, exceptions or {}, now) for item in raw}
    except (KeyError, TypeError) as exc:
        raise EngineError(f"the policies answered a malformed violation: {exc!r}") from exc
    return sorted(found)


def _violation(
    item: Any,
    modes: Mapping[str, str],
    exceptions: Mapping[str, Mapping[str, Any]],
    now: float | None,
) -> Violation:
    v = Violation.from_rego(item, _mode(modes, str(item["policy"])))
    for name in item.get("exceptions") or ():
        exception = exceptions.get(str(name))
        if exception is None:
            continue
        expires = exception.get("expires")
        if expires is not None and now is not None and now >= float(expires):
            continue  # expired: judged again
        return replace(v, mode="audit", exception=exception_note(exception))
    return v


def exception_note(exception: Mapping[str, Any]) -> str:
    """How a lifted violation names its exception."""
    until = f", until {exception['until']}" if exception.get("until") else ""
    return (
        f"exception {exception['name']} ({exception.get('source', '')}{until}): "
        f"{exception.get('reason', '')}"
    )


def _mode(modes: Mapping[str, str], policy: str) -> Mode:
    mode = modes.get(policy, "enforce")
    if mode == "warn":
        return "warn"
    if mode == "audit":
        return "audit"
    return "enforce"


# -- the registry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineOptions:
    """The settings only some engines use (the OPA server engine's)."""

    opa_url: str = "http://127.0.0.1:8181"
    timeout: float = 2.0  # seconds an OPA server has to answer
    publish: bool = False  # push the policies and data to the OPA server first


@dataclass(frozen=True)
class EngineInfo:
    """One engine: how to make it, and what the webhook and the chart need to know of it."""

    name: str
    # The engine for data (from meshc.policies.data.policy_data); imports its
    # runtime only when called, so naming an engine costs nothing.
    make: Callable[[dict[str, Any], EngineOptions], PolicyEngine]
    summary: str  # what --engine's help says of it
    # Evaluates in meshc's own process: the chart's server.engine choices
    # (an OPA server is the chart's opa.sidecar instead).
    in_process: bool
    # Stops an evaluation itself at its deadline (a BoundedEngine): the
    # webhook evaluates on the request's thread (InlineJudge) and needs no
    # judge threads.
    bounds_deadline: bool
    # Otherwise: evaluations that may be stuck past their deadline at once,
    # per worker (BoundedJudge).
    judge_threads: int
    # Python threads per webhook worker running the app. Evaluation in
    # process is CPU-bound under the GIL, so more than one only adds
    # contention (measured in bench/bench_webhook.py); an OPA server's engine
    # waits on the network, which is what its extra threads are for.
    server_threads: int


def _wasm(data: dict[str, Any], options: EngineOptions) -> PolicyEngine:
    from .wasm_engine import WasmEngine

    return WasmEngine(data)


def _embedded(data: dict[str, Any], options: EngineOptions) -> PolicyEngine:
    from .embedded import EmbeddedEngine

    return EmbeddedEngine(data)


def _opa(data: dict[str, Any], options: EngineOptions) -> PolicyEngine:
    from .opa_server import OpaServerEngine

    engine = OpaServerEngine(data, url=options.opa_url, timeout=options.timeout)
    if options.publish:
        engine.publish()
    return engine


# Every engine, by the name --engine takes, in the order help lists them.
ENGINES: Final[Mapping[str, EngineInfo]] = {
    info.name: info
    for info in (
        EngineInfo(
            name="wasm",
            make=_wasm,
            summary="the policies as OPA compiles them to WebAssembly, run by wasmtime "
            "(the quickest)",
            in_process=True,
            bounds_deadline=True,
            judge_threads=0,
            server_threads=1,
        ),
        EngineInfo(
            name="embedded",
            make=_embedded,
            summary="rego-cpp, an interpreter",
            in_process=True,
            bounds_deadline=False,
            judge_threads=4,
            server_threads=1,
        ),
        EngineInfo(
            name="opa",
            make=_opa,
            summary="an OPA server at --opa-url",
            in_process=False,
            bounds_deadline=False,
            judge_threads=12,
            server_threads=8,
        ),
    )
}
ENGINE_NAMES: Final[tuple[str, ...]] = tuple(ENGINES)
# The engine of `meshc check` and `meshc webhook serve` unless --engine names another:
# the quickest to evaluate, and with its compiled module cached (wasm_cache.py) the
# quickest to start too.
DEFAULT_ENGINE: Final = "wasm"


def engine_help(default: str = DEFAULT_ENGINE) -> str:
    """``--engine``'s help: every engine's summary, the default marked."""
    return "; ".join(
        f"{name}: {info.summary}{' (default)' if name == default else ''}"
        for name, info in ENGINES.items()
    )


def create_engine(
    name: str,
    data: dict[str, Any],
    *,
    opa_url: str = EngineOptions.opa_url,
    timeout: float = EngineOptions.timeout,
    publish: bool = False,
) -> PolicyEngine:
    """The engine called ``name`` (one of :data:`ENGINE_NAMES`) for ``data``.

    ``data`` comes from :func:`meshc.policies.data.policy_data`. The wasm and
    embedded engines compile the policies here, once. ``opa`` queries an OPA
    server that already holds the policies (a bundle written by
    :func:`meshc.policies.opa_server.write_bundle`), or pushes policies and
    data to it first when ``publish`` is set. Raises EngineError when the
    engine cannot start, ValueError for a name not in :data:`ENGINES`.
    """
    info = ENGINES.get(name)
    if info is None:
        expected = ", ".join(repr(n) for n in ENGINE_NAMES)
        raise ValueError(f"unknown policy engine {name!r}; expected one of {expected}")
    return info.make(data, EngineOptions(opa_url=opa_url, timeout=timeout, publish=publish))


@dataclass(frozen=True)
class Decision:
    denials: tuple[Violation, ...]  # enforce: the request is denied
    warnings: tuple[Violation, ...]  # warn: admitted with admission warnings
    audits: tuple[Violation, ...]  # audit: admitted, logged and counted

    @property
    def allowed(self) -> bool:
        return not self.denials


def decide(violations: Iterable[Violation]) -> Decision:
    """Sort violations by what their policy's mode does with them.

    The one decision: the webhook's verdict (:func:`meshc.webhook.decision.judge`)
    and ``meshc check``'s exit code (:func:`meshc.policies.check.exit_code`)
    both come from it.
    """
    found = sorted(violations)
    return Decision(
        denials=tuple(v for v in found if v.mode == "enforce"),
        warnings=tuple(v for v in found if v.mode == "warn"),
        audits=tuple(v for v in found if v.mode == "audit"),
    )
