"""Verdicts: which violations deny, which warn, and texts within the API server's limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshc.policies.engine import EngineError
from meshc.policies.violations import Violation, format_message
from meshc.webhook.decision import ALLOWED, ELLIPSIS, fit_warnings, judge, truncate
from meshc.webhook.response import admission_review, encode, review_body


def violation(mode: str, name: str = "web") -> Violation:
    return Violation(
        policy="mtls-strict",
        kind="PeerAuthentication",
        namespace="mesh-demo",
        name=name,
        path="spec.mtls.mode",
        problem='accepts plaintext: "PERMISSIVE"',
        fix="set it to STRICT",
        mode=mode,
    )  # type: ignore[arg-type]


class Engine:
    def __init__(self, answer: list[Violation] | Exception):
        self.answer = answer

    def evaluate(self, review: object) -> list[Violation]:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_enforced_violations_deny_and_the_message_lists_them_sorted() -> None:
    b, a = violation("enforce", "b"), violation("enforce", "a")
    verdict = judge(Engine([b, a]), {})
    assert verdict.allowed is False
    assert verdict.message == f"{format_message(a)}\n{format_message(b)}"


def test_warn_and_audit_alone_admit() -> None:
    verdict = judge(Engine([violation("warn"), violation("audit")]), {})
    assert verdict.allowed is True
    assert verdict.warnings == [format_message(violation("warn"), hint=False)]


def test_no_decision_denies_when_closed_and_admits_with_a_warning_when_open() -> None:
    closed = judge(Engine(EngineError("connection refused")), {}, "closed")
    assert closed.allowed is False
    assert closed.message == (
        "[meshc:engine] policy engine unavailable: connection refused; "
        "the request is denied because --failure-mode=closed"
    )
    opened = judge(Engine(EngineError("connection refused")), {}, "open")
    assert opened.allowed is True
    assert opened.warnings == [opened.message]
    assert opened.message.endswith("the request is allowed because --failure-mode=open")


def test_truncation_counts_bytes_and_never_splits_a_character() -> None:
    text = "é" * 200  # 400 bytes
    cut = truncate(text, 256)
    assert cut.endswith(ELLIPSIS)
    assert len(cut.encode()) <= 256
    assert truncate("short", 256) == "short"


WARNING_TEXT = st.text(
    alphabet=st.characters(blacklist_characters=ELLIPSIS, blacklist_categories=("Cs",)),
    max_size=600,
)


@given(st.lists(WARNING_TEXT, max_size=60))
def test_warnings_always_fit_and_say_how_many_were_left_out(texts: list[str]) -> None:
    fitted = fit_warnings(texts)
    assert all(len(w.encode()) <= 256 for w in fitted)
    assert sum(len(w.encode()) for w in fitted) <= 4096
    if fitted and fitted[-1].startswith(f"{ELLIPSIS}and "):
        kept = fitted[:-1]
        assert fitted[-1].startswith(f"{ELLIPSIS}and {len(texts) - len(kept)} more")
    else:
        kept = fitted
        assert len(fitted) == len(texts)
    for shown, text in zip(kept, texts, strict=False):
        assert shown == text or (
            shown.endswith(ELLIPSIS) and text.startswith(shown[: -len(ELLIPSIS)])
        )


# -- response bodies -----------------------------------------------------------------------------


@given(st.text(max_size=40))
def test_a_bare_allow_is_encoded_as_the_full_review_would_be(uid: str) -> None:
    try:
        expected = encode(admission_review(uid, ALLOWED))
    except UnicodeEncodeError:  # a lone surrogate: neither can encode it
        with pytest.raises(UnicodeEncodeError):
            review_body(uid, ALLOWED)
        return
    assert review_body(uid, ALLOWED) == expected
    assert review_body(uid, judge(Engine([]), {})) == expected
    for other in (
        judge(Engine([violation("warn")]), {}),
        judge(Engine([violation("audit")]), {}),
        judge(Engine([violation("enforce")]), {}),
        judge(Engine(EngineError("down")), {}, "open"),
    ):
        assert review_body(uid, other) == encode(admission_review(uid, other))
    patch = [{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}]
    assert review_body(uid, ALLOWED, patch) == encode(admission_review(uid, ALLOWED, patch))
