"""From an AdmissionReview to the webhook's verdict.

:func:`judge` asks the engine, sorts what it finds with the policies' own
:func:`~meshc.policies.engine.decide` (the decision ``meshc check`` takes
its exit code from), and applies the failure mode when no decision can be
made. :class:`Verdict` builds the texts the API server shows. Nothing here
imports Flask: the settings the supervisor reads before anything heavy is
imported take their failure modes from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from meshc.policies.engine import Decision, PolicyEngine, Review, decide
from meshc.policies.violations import format_message

FailureMode = Literal["closed", "open"]
FAILURE_MODES: tuple[FailureMode, ...] = ("closed", "open")

# Kubernetes truncates each warning past 256 characters and drops warnings
# once their total passes 4,096; counting UTF-8 bytes keeps us inside both.
WARNING_MAX = 256
WARNINGS_TOTAL_MAX = 4096
ELLIPSIS = "…"

NO_VIOLATIONS = Decision(denials=(), warnings=(), audits=())


@dataclass(frozen=True)
class Verdict:
    decision: Decision  # what the policies found; empty when the engine failed
    engine_error: str = ""  # why no decision could be made, if so
    failure_mode: FailureMode = "closed"
    # Said on every answer whatever the decision: a webhook evaluating only
    # some policies (--policy) says which (meshc.webhook.state.State.notices).
    notices: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        if self.engine_error:
            return self.failure_mode == "open"
        return bool(self.decision.allowed)

    @property
    def engine_message(self) -> str:
        verb = "denied" if self.failure_mode == "closed" else "allowed"
        return (
            f"[meshc:engine] policy engine unavailable: {self.engine_error}; "
            f"the request is {verb} because --failure-mode={self.failure_mode}"
        )

    @property
    def message(self) -> str:
        """``status.message`` of a denial: every violation, one per line."""
        if self.engine_error:
            return self.engine_message
        return "\n".join(format_message(v) for v in self.decision.denials)

    @property
    def warnings(self) -> list[str]:
        """The admission ``warnings``, already within the API server's limits."""
        texts = [*self.notices, *(format_message(v, hint=False) for v in self.decision.warnings)]
        if self.engine_error and self.allowed:
            # Failing open must still be visible to whoever applied the object.
            texts.insert(0, self.engine_message)
        return fit_warnings(texts)


ALLOWED = Verdict(NO_VIOLATIONS)


def engine_failure(reason: str, failure_mode: FailureMode) -> Verdict:
    return Verdict(NO_VIOLATIONS, engine_error=reason, failure_mode=failure_mode)


def judge(engine: PolicyEngine, review: Review, failure_mode: FailureMode = "closed") -> Verdict:
    """The verdict on one AdmissionReview (a dict, or its JSON text as received)."""
    try:
        violations = engine.evaluate(review)
    except Exception as exc:  # noqa: BLE001 - any engine failure is "no decision"
        # EngineError is the documented failure; a bug in an engine must not
        # turn into an allow either, so the failure mode decides both.
        return engine_failure(str(exc) or type(exc).__name__, failure_mode)
    return Verdict(decide(violations))


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, marked with an ellipsis when cut."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - len(ELLIPSIS.encode())].decode(errors="ignore") + ELLIPSIS


def fit_warnings(texts: Sequence[str]) -> list[str]:
    """Warnings the API server passes on whole: each, and all together, within its limits.

    Those that do not fit become one ``…and N more`` line, so the user knows
    ``meshc check`` has more to say.
    """
    out: list[str] = []
    total = 0
    for i, text in enumerate(texts):
        one = truncate(text, WARNING_MAX)
        left_after = len(texts) - i - 1
        # Keep room for the "and N more" line unless this is the last warning.
        reserve = len(_more(left_after).encode()) if left_after else 0
        if total + len(one.encode()) + reserve > WARNINGS_TOTAL_MAX:
            out.append(_more(len(texts) - i))
            break
        out.append(one)
        total += len(one.encode())
    return out


def _more(n: int) -> str:
    return f"{ELLIPSIS}and {n} more (run `meshc check` for all)"
