"""The policy engine interface, the frame every engine is built on, its factory, and the decision.

The webhook and ``meshc check`` only ever see :class:`PolicyEngine`; which
engine evaluates the Rego (OPA's Wasm in wasmtime, rego-cpp in-process, or an
OPA server) is configuration. Every
engine is an :class:`EngineFrame`: the frame prepares the input
(:func:`policy_input`), asks the engine for its raw answer, turns that into
violations (:func:`to_violations`) and any failure into :class:`EngineError`.
Every caller sorts violations into allow, deny, warn and audit with
:func:`decide`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, runtime_checkable

from .modules import ENTRYPOINT
from .projection import project
from .violations import Mode, Violation

EngineKind = Literal["embedded", "wasm", "opa"]
# Every engine, by the name --engine takes.
ENGINE_NAMES: tuple[EngineKind, ...] = ("wasm", "embedded", "opa")
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
    return project(review)


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

    def __init__(self, data: Mapping[str, Any]):
        # Each policy's mode (spec.admission.policies); a policy not named is enforced.
        self.modes: dict[str, str] = dict(data.get("modes", {}))

    def evaluate(self, review: Review) -> list[Violation]:
        try:
            answer = self.raw(policy_input(review))
        except EngineError:
            raise
        except Exception as exc:  # whatever failed, no decision was made
            raise EngineError(f"{self.failure}: {_first_line(exc)}") from exc
        if answer is UNDEFINED:
            raise EngineError(self.undefined)
        return to_violations(answer, self.modes)

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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def to_violations(raw: Any, modes: Mapping[str, str]) -> list[Violation]:
    """Violations from the engines' raw answer (a JSON array of objects), sorted."""
    if not isinstance(raw, list):
        raise EngineError(
            f"the policies answered {type(raw).__name__}, expected a list of violations"
        )
    try:
        found = {Violation.from_rego(item, _mode(modes, str(item["policy"]))) for item in raw}
    except (KeyError, TypeError) as exc:
        raise EngineError(f"the policies answered a malformed violation: {exc!r}") from exc
    return sorted(found)


def _mode(modes: Mapping[str, str], policy: str) -> Mode:
    mode = modes.get(policy, "enforce")
    if mode == "warn":
        return "warn"
    if mode == "audit":
        return "audit"
    return "enforce"


def create_engine(
    kind: EngineKind,
    data: dict[str, Any],
    *,
    opa_url: str = "http://127.0.0.1:8181",
    timeout: float = 2.0,
    publish: bool = False,
) -> PolicyEngine:
    """An engine for ``data`` (from :func:`meshc.policies.data.policy_data`).

    ``embedded`` compiles the policies once, here. ``opa`` queries an OPA
    server that already holds the policies (a bundle built with
    :func:`meshc.policies.opa_server.write_bundle`), or pushes policies and
    data to it first when ``publish`` is set.
    """
    if kind == "embedded":
        from .embedded import EmbeddedEngine

        return EmbeddedEngine(data)
    if kind == "wasm":
        from .wasm_engine import WasmEngine

        return WasmEngine(data)
    if kind == "opa":
        from .opa_server import OpaServerEngine

        engine = OpaServerEngine(data, url=opa_url, timeout=timeout)
        if publish:
            engine.publish()
        return engine
    raise ValueError(f"unknown policy engine {kind!r}; expected 'embedded', 'wasm' or 'opa'")


@dataclass(frozen=True)
class Decision:
    denials: tuple[Violation, ...]  # enforce: the request is denied
    warnings: tuple[Violation, ...]  # warn: admitted with admission warnings
    audits: tuple[Violation, ...]  # audit: admitted, logged and counted

    @property
    def allowed(self) -> bool:
        return not self.denials


def decide(violations: Iterable[Violation]) -> Decision:
    """Sort violations by what their policy's mode does with them."""
    found = sorted(violations)
    return Decision(
        denials=tuple(v for v in found if v.mode == "enforce"),
        warnings=tuple(v for v in found if v.mode == "warn"),
        audits=tuple(v for v in found if v.mode == "audit"),
    )
