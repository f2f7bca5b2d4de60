"""What each Kubernetes release serves of admission policies, and what CEL it compiles.

ValidatingAdmissionPolicy is GA (admissionregistration.k8s.io/v1) since 1.30.
MutatingAdmissionPolicy is v1 and on by default from 1.36; on 1.34 and 1.35 it
is v1beta1 and off by default: the API server needs
``--feature-gates=MutatingAdmissionPolicy=true`` and
``--runtime-config=admissionregistration.k8s.io/v1beta1=true``. Before 1.34
there is no MutatingAdmissionPolicy to rely on, and meshed namespaces carry
their markers from Git (the rendered Namespaces do).

An API server compiles a new expression with the CEL environment of the
release before its own (its minimum compatibility version, kept so that a
rollback can still run what was stored): a library introduced in 1.N is usable
from 1.N+1 on. :func:`required` reads which a compiled expression uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .expand import tokenize

MINIMUM = (1, 30)  # ValidatingAdmissionPolicy v1
LATEST = (1, 36)  # what meshc renders for unless told otherwise

Version = tuple[int, int]

# CEL features past the base environment of 1.30, with the release whose API
# server first accepts them in a new expression (k8s.io/apiserver
# pkg/cel/environment/base.go, IntroducedVersion + 1).
_TWO_VARIABLE = re.compile(
    r"\.(?:all|exists|existsOne|exists_one|transformList|transformMap|transformMapEntry)"
    r"\(\s*[A-Za-z_]\w*\s*,\s*[A-Za-z_]\w*\s*,"
)
_LISTS_V3 = re.compile(
    r"\.(?:sort|sortBy|distinct|flatten|first|last|reverse|slice)\(|\blists\.range\("
)
FEATURES: tuple[tuple[str, re.Pattern[str], Version], ...] = (
    ("two-variable comprehensions", _TWO_VARIABLE, (1, 33)),
    ("the lists library (sort, distinct, flatten, range)", _LISTS_V3, (1, 35)),
)


@dataclass(frozen=True)
class Serves:
    """The admission-policy API versions a Kubernetes release serves."""

    version: Version
    validating: str  # apiVersion of ValidatingAdmissionPolicy and its binding
    mutating: str | None  # of MutatingAdmissionPolicy and its binding; None: none to rely on


def parse(text: str) -> Version:
    """``1.34`` (or ``v1.34.2``) as (1, 34); ValueError for anything else."""
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not a Kubernetes version such as 1.34")
    return int(m.group(1)), int(m.group(2))


def show(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def serves(version: Version) -> Serves:
    """What ``version`` serves; ValueError below :data:`MINIMUM`."""
    if version < MINIMUM:
        raise ValueError(
            f"Kubernetes {show(version)} has no ValidatingAdmissionPolicy v1 "
            f"(GA in {show(MINIMUM)}): native enforcement needs {show(MINIMUM)} or later; "
            "use spec.admission.enforcement: webhook"
        )
    if version >= (1, 36):
        mutating: str | None = "admissionregistration.k8s.io/v1"
    elif version >= (1, 34):
        mutating = "admissionregistration.k8s.io/v1beta1"
    else:
        mutating = None
    return Serves(version, "admissionregistration.k8s.io/v1", mutating)


def _code(expression: str) -> str:
    """The expression without its string literals, for feature matching."""
    return "".join(t.text if t.kind != "string" else "''" for t in tokenize(expression))


def required(expression: str) -> tuple[Version, list[str]]:
    """The oldest release that compiles ``expression``, and the features that need it."""
    code = _code(expression)
    needed = MINIMUM
    why: list[str] = []
    for name, pattern, since in FEATURES:
        if pattern.search(code):
            why.append(name)
            needed = max(needed, since)
    return needed, why
